"""metric folder -> ``dg.Definitions``. Reads local files only: no network while loading."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from metricdag.catalog.client import CatalogClient
from metricdag.factory import graph_order
from metricdag.factory.assets import (
    node_asset,
    persist_asset,
    review_asset,
    review_checks,
    sourcing_asset,
    upstream_metric_spec,
)
from metricdag.factory.lock_tags import resolve_lock_tags
from metricdag.resources import CatalogResource, resources_for
from metricdag.settings import Environment, ExecutorSpec, current_environment
from metricdag.spec.loader import Metric, load_metric

graph_order.install()  # Dagster's job and asset-graph builds sort in linear time, however deep the metric


EXECUTOR_TAG = "metricdag/executor"  # on every run of the job: which executor ran its steps


def executor_spec(metric: Metric, env: Environment) -> ExecutorSpec:
    """The metric's ``executor:``, else the environment file's default."""
    return metric.spec.executor or env.executor


def _inner_config(spec: ExecutorSpec) -> dict:
    if spec.type == "in_process":
        return {"in_process": {}}
    start = {"forkserver": {"preload_modules": list(spec.preload_modules)}} if spec.start_method == "forkserver" else {"spawn": {}}
    return {"multiprocess": {"max_concurrent": spec.max_concurrent, "start_method": start}}


def executor_def(spec: ExecutorSpec) -> dg.ExecutorDefinition:
    """Dagster's in-process or multiprocess executor, chosen by ``spec``.

    Its run config is the same selector as Dagster's default executor (``in_process:`` or
    ``multiprocess:``) with ``spec`` as the default, so a launch can still override it (the
    launchpad, a test); only the default differs. Every launched run (schedule, sensors, the UI,
    backfills, re-executions) gets this executor, since it belongs to the job."""
    selector = dg.Selector({
        "in_process": dg.in_process_executor.config_schema.as_field(),
        "multiprocess": dg.multiprocess_executor.config_schema.as_field(),
    })

    def requirements(config):
        kind, inner = next(iter(config.items()))
        return (dg.multiprocess_executor if kind == "multiprocess" else dg.in_process_executor).get_requirements(inner)

    @dg.executor(name="metricdag", config_schema=dg.Field(selector, default_value=_inner_config(spec)),
                 requirements=requirements)
    def _executor(init_context: dg.InitExecutorContext):
        kind, inner = next(iter(init_context.executor_config.items()))
        chosen = dg.multiprocess_executor if kind == "multiprocess" else dg.in_process_executor
        return chosen.executor_creation_fn(dg.InitExecutorContext(
            job=init_context.job, executor_def=chosen, executor_config=inner, instance=init_context.instance,
        ))

    return _executor


def job_name(metric: str) -> str:
    return f"{metric}__daily"


def partition_for_tick(scheduled: datetime, timezone: str) -> str:
    """A tick computes the previous calendar day in the metric's timezone."""
    local = scheduled.astimezone(ZoneInfo(timezone))
    return (local.date() - timedelta(days=1)).isoformat()


def daily_schedule(metric: Metric, job) -> dg.ScheduleDefinition:
    spec = metric.spec

    @dg.schedule(
        name=f"{metric.name}__schedule",
        job=job,
        cron_schedule=spec.schedule.cron,
        execution_timezone=spec.schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{spec.schedule.cron} ({spec.schedule.timezone}): yesterday's partition of {metric.name}",
    )
    def _tick(context: dg.ScheduleEvaluationContext, catalog: CatalogResource):
        partition = partition_for_tick(context.scheduled_execution_time, spec.schedule.timezone)
        if partition < spec.partitions.start_date.isoformat():
            return dg.SkipReason(f"{partition} is before the first partition {spec.partitions.start_date}")
        return dg.RunRequest(
            run_key=f"{metric.name}:{partition}",
            partition_key=partition,
            tags=resolve_lock_tags(catalog.client(), metric.spec.catalog_datasets()),
        )

    return _tick


def build_metric_definitions(folder: Path | str, env: Environment | None = None) -> dg.Definitions:
    """The code location of one metric: its definitions with the environment's resources and
    its executor bound. A broken metric.yaml raises SpecError (``path:line: ...``)."""
    env = env or current_environment()
    with collector_paused():
        metric = load_metric(Path(folder), env.project_root)
        return location_definitions([metric_definitions(metric, env)], env, executor_def(executor_spec(metric, env)))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a location is built: the build only adds
    objects that stay alive, and the collector would rescan all of them again and again as they
    pile up (about a tenth of a 10,000-asset load). On again afterwards, as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def location_definitions(
    metrics: list[dg.Definitions], env: Environment, executor: dg.ExecutorDefinition | None = None
) -> dg.Definitions:
    """One code location: the metrics' definitions (each without resources) and the
    environment's resources, bound once. ``executor``: for runs of an asset selection made in
    the UI (Dagster's implicit asset job); each metric's own jobs carry their executor.

    A metric's stand-in for another metric's output (:func:`upstream_metric_spec`) is left out
    when that metric is in the same location, which then defines the asset itself."""
    defined = {key for defs in metrics for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) for key in a.keys}
    return dg.Definitions.merge(
        *(without_stand_ins(defs, defined) for defs in metrics),
        dg.Definitions(resources=resources_for(env), executor=executor),
    )


def without_stand_ins(defs: dg.Definitions, defined: set[dg.AssetKey]) -> dg.Definitions:
    """``defs`` (as :func:`metric_definitions` makes them) without the asset specs of ``defined`` keys."""
    assets = [a for a in defs.assets or [] if not (isinstance(a, dg.AssetSpec) and a.key in defined)]
    if len(assets) == len(defs.assets or []):
        return defs
    return dg.Definitions(
        assets=assets, asset_checks=defs.asset_checks, jobs=defs.jobs, schedules=defs.schedules, sensors=defs.sensors
    )


def metric_definitions(metric: Metric, env: Environment) -> dg.Definitions:
    """Everything one metric defines (assets, checks, jobs, schedule, sensors), without
    resources or a location executor, so that several metrics merge into one location."""
    spec = metric.spec
    graph_order.fit_recursion_limit(spec)  # Dagster walks the job graph one frame per level
    partitions = dg.DailyPartitionsDefinition(start_date=spec.partitions.start_date.isoformat())
    cache = CatalogClient(env.catalog.url, env.path(env.catalog.cache_dir), env.name)

    assets: list[dg.AssetsDefinition] = [
        sourcing_asset(metric, s.dataset, partitions, cache.cached(s.dataset)) for s in spec.sourcing if not s.from_metric
    ]
    upstream = [upstream_metric_spec(metric, s, partitions) for s in spec.sourcing if s.from_metric]
    assets += [node_asset(metric, layer, node, partitions) for layer, node in spec.nodes()]
    reviewed = sorted({r.dataset for r in spec.review})
    assets += [review_asset(metric, dataset, partitions) for dataset in reviewed]
    assets += [persist_asset(metric, p, partitions) for p in spec.persist]
    checks = [check for review in spec.review for check in review_checks(metric, review, partitions)]

    executor = executor_spec(metric, env)
    executor_definition = executor_def(executor)
    job = dg.define_asset_job(
        name=job_name(metric.name),
        selection=dg.AssetSelection.assets(*assets),
        description=f"Every layer of {metric.name} for one day.",
        tags={"metric": metric.name, EXECUTOR_TAG: executor.label},
        executor_def=executor_definition,
    )
    schedule = daily_schedule(metric, job)
    jobs, sensors = [job], metric_sensors(metric, env, job, assets)
    if spec.on_change is not None:
        from metricdag.backfill.on_change import on_change_job, on_change_sensor

        jobs.append(on_change_job(metric, env))
        sensors.append(on_change_sensor(metric, env, jobs[-1], metric.version.version))
    return dg.Definitions(
        assets=[*upstream, *assets],
        asset_checks=checks,
        jobs=jobs,
        schedules=[schedule],
        sensors=sensors,
    )


def metric_sensors(metric: Metric, env: Environment, job, assets: list[dg.AssetsDefinition]) -> list[dg.SensorDefinition]:
    """The event sensor (when events.yaml maps an event to this metric and the environment has
    an event source) and the run-status sensors (audit, alerts). Reads local files only."""
    from metricdag.audit.sensors import run_sensors
    from metricdag.events.models import load_events_config
    from metricdag.events.sensors import event_sensor

    sensors: list[dg.SensorDefinition] = list(run_sensors(metric, env, job))
    targets = load_events_config(env.project_root).targets_for(metric.name)
    if targets and env.events is not None:
        sensors.append(event_sensor(metric, env, job, assets, targets))
    return sensors
