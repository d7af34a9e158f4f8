"""Run-status sensors of one metric location: audit every run, alert failures, resolve on success."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from metricdag.alerting.episodes import Failure
from metricdag.alerting.notify import alert_failure, resolve_partition
from metricdag.alerting.routes import load_alerting_config, routes_for
from metricdag.audit.store import audit_store_for
from metricdag.errors import ConfigError
from metricdag.failures import step_failures
from metricdag.settings import Environment
from metricdag.spec.loader import Metric

PARTITION_TAG = "dagster/partition"


def failed_nodes(records: Iterable[dg.EventLogEntry]) -> list[tuple[str, str]]:
    """(node, reason) per failed step, the reason's first line being the step's root cause
    (``failures.root_cause``); a failed check is named ``<asset>:<check>`` in the reason."""
    records = list(records)
    failed_checks: list[str] = []
    for entry in records:
        event = entry.dagster_event
        if event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                failed_checks.append(f"{data.asset_key.to_user_string()}:{data.check_name}")
    steps = step_failures(records)
    checks = f"rejected by review check(s): {', '.join(failed_checks)}" if failed_checks else ""
    if not steps:
        return [("run", checks or "the run failed before or outside any step")]
    return [(step, "\n".join(filter(None, [reason, checks]))) for step, reason in sorted(steps.items())]


def step_retries(records: Iterable[dg.EventLogEntry]) -> list[str]:
    return [
        f"{entry.dagster_event.step_key} retry {n}"
        for n, entry in enumerate(
            (e for e in records if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"), 1
        )
    ]


def _logs(context, run_id: str, *types: dg.DagsterEventType) -> list[dg.EventLogEntry]:
    return list(context.instance.all_logs(run_id, of_type=set(types)))


def run_sensors(metric: Metric, env: Environment, job) -> list[dg.SensorDefinition]:
    name = metric.name
    metric_routes = list(metric.spec.alert_routes)
    known = load_alerting_config(env.project_root).routes
    unknown = [r for r in metric_routes if r not in known]
    if unknown:
        raise ConfigError(
            f"metrics/{name}/metric.yaml: alert_routes {', '.join(unknown)} are not routes in "
            f"pipeline-configs/alerting.yaml (known: {', '.join(sorted(known)) or 'none'})"
        )

    def store():
        return audit_store_for(env)

    def record(run, status: str, detail: str = "") -> None:
        s = store()
        if s is not None:
            s.record_run(environment=env.name, metric=name, partition=run.tags.get(PARTITION_TAG),
                         run_id=run.run_id, status=status, detail=detail)

    def record_retries(context, run) -> None:
        for detail in step_retries(_logs(context, run.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)):
            record(run, "retried", detail)

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.STARTED, name=f"{name}__run_started", monitored_jobs=[job],
        default_status=dg.DefaultSensorStatus.RUNNING, description=f"Audits the start of every {name} run.",
    )
    def _started(context: dg.RunStatusSensorContext):
        record(context.dagster_run, "started")

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS, name=f"{name}__run_succeeded", monitored_jobs=[job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Audits every successful {name} run and resolves the partition's open alerts.",
    )
    def _succeeded(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        record_retries(context, run)
        record(run, "succeeded")
        partition = run.tags.get(PARTITION_TAG)
        s = store()
        if s is not None and partition:
            routes = routes_for(load_alerting_config(env.project_root), name, metric_routes)
            resolved = resolve_partition(env.name, name, partition, routes, env.alerting, s, context.log)
            for key in resolved:
                context.log.info(f"resolved alert {key}")

    @dg.run_failure_sensor(
        name=f"{name}__run_failed", monitored_jobs=[job], default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Audits every failed {name} run and alerts (email, PagerDuty) once per failure episode.",
    )
    def _failed(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        record_retries(context, run)
        logs = _logs(context, run.run_id, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        nodes = failed_nodes(logs)
        record(run, "failed", "; ".join(node for node, _ in nodes))
        s = store()
        if s is None:
            context.log.warning(f"environment {env.name} has no audit store: cannot track alert episodes")
            return
        routes = routes_for(load_alerting_config(env.project_root), name, metric_routes)
        partition = run.tags.get(PARTITION_TAG) or "unpartitioned"
        for node, reason in nodes:
            failure = Failure(env.name, name, partition, node, run.run_id, reason)
            alert_failure(failure, routes, env.alerting, s, context.log)

    return [_started, _succeeded, _failed]
