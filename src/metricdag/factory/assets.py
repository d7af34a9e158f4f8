"""Asset builders, one per layer. Thin Dagster wiring around pure functions elsewhere.

No ``from __future__ import annotations`` here: Dagster reads the real annotation types
of asset functions (context, resources).

Keys are ``<metric>/<layer>/<dataset>``; groups are ``<metric>__<layer>`` and every asset has a
description (:mod:`metricdag.factory.naming`).
"""


import time
import warnings
from datetime import date, datetime, timezone

import dagster as dg
import pandas as pd
from dagster_snowflake import SnowflakeResource

from metricdag.audit.store import audit_store_for
from metricdag.catalog.conform import conform
from metricdag.catalog.models import (
    LegendLambdaCoordinates,
    ObjectStoreCoordinates,
    ResolvedDataset,
    SnowflakeCoordinates,
)
from metricdag.factory.lock_tags import resolve_locked, run_chain, run_locks
from metricdag.factory.naming import asset_description, group_name
from metricdag.factory.pipes import check_specs, jvm_pipes, reported
from metricdag.factory.sql_assets import in_place_source, read_in_place, sql_node_asset
from metricdag.factory.warehouse_checks import in_warehouse, warehouse_check
from metricdag.io.io_manager import IN_PLACE, READ_AS
from metricdag.lineage.collect import run_facts
from metricdag.nodes.context import NodeContext
from metricdag.nodes.execute import run_node
from metricdag.persistence.publish import STAGING_TAG, staging_schema
from metricdag.persistence.request import PersistRequest
from metricdag.io.resource import ObjectStoreResource
from metricdag.spec.layers import PERSISTED, REVIEW, SOURCING
from metricdag.resources import CatalogResource, LegendResource, PersisterResource
from metricdag.retries import classify_failures
from metricdag.review.checks import (
    AnyCheck,
    CheckOutcome,
    anomaly,
    check_names,
    data_outcome,
    freshness,
    schema_check,
    variance,
)
from metricdag.review.gates import demotion
from metricdag.review.history import accepted_history
from metricdag.review.measures import measure
from metricdag.review.repository import evaluation, repository_history
from metricdag.settings import cached_environment
from metricdag.sourcing.errors import SourceError
from metricdag.sourcing.legend import read_legend
from metricdag.sourcing.object_store import read_object_store
from metricdag.sourcing.snowflake import partition_query, read_snowflake
from metricdag.spec.loader import Metric
from metricdag.spec.models import (
    AcceptedValuesCheck,
    AnomalyCheck,
    DailyMinimumCheck,
    FreshnessCheck,
    NodeSpec,
    NotNullCheck,
    PersistSpec,
    RangeCheck,
    RecordCountCheck,
    ReviewCheck,
    ReviewSpec,
    SchemaCheck,
    SourcingSpec,
    SqlCheck,
    UniqueCheck,
    VarianceCheck,
)

# A backfill launched from the UI runs one partition per run through
# the normal day-by-day path (assets read ``context.partition_key``: one day per run); the CLI's
# ``metricdag backfill`` adds the staging-then-publish path over the same job. Given to every
# asset decorator (a copy of each asset with it would cost as much again at load).
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


def layer_asset(**kwargs):
    """``@dg.asset`` with :data:`BACKFILL_POLICY` (a beta parameter of ``asset``, not of
    ``multi_asset``: Dagster's warning about it is not the user's to act on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
        return dg.asset(backfill_policy=BACKFILL_POLICY, **kwargs)


def asset_key(metric: str, layer: str, dataset: str) -> dg.AssetKey:
    return dg.AssetKey([metric, layer, dataset])


def dataset_key(metric: Metric, dataset: str) -> dg.AssetKey:
    return asset_key(metric.name, layers_of(metric)[dataset], dataset)


_LAYERS: dict[int, tuple[Metric, dict[str, str]]] = {}


def layers_of(metric: Metric) -> dict[str, str]:
    """dataset -> layer (what ``MetricSpec.layer_of`` answers), indexed once per loaded metric:
    asking ``layer_of`` for every node input scans every node each time (quadratic load)."""
    hit = _LAYERS.get(id(metric))
    if hit is None or hit[0] is not metric:
        if len(_LAYERS) >= 64:
            _LAYERS.clear()
        index = {}
        for layer, node in metric.spec.nodes():
            for name in node.output_names:
                index.setdefault(name, layer)
        index.update({s.dataset: SOURCING for s in metric.spec.sourcing})
        hit = _LAYERS[id(metric)] = (metric, index)
    return hit[1]


def owners(metric: Metric) -> list[str]:
    owner = metric.spec.owner
    return [owner] if "@" in owner else [f"team:{owner}"]


def tags(metric: Metric, layer: str) -> dict[str, str]:
    return {"metric": metric.name, "layer": layer}


METRIC_VERSION_KEY = "metricdag/metric_version"
def version_metadata(metric: Metric) -> dict[str, str]:
    """Asset metadata naming the metric version (`metricdag version METRIC` shows its parts).
    Metadata rather than a tag: it changes with every definition change, tags are for selection."""
    return {METRIC_VERSION_KEY: metric.version.version}


def source_kind(cached: ResolvedDataset | None) -> set[str]:
    if cached is None:
        return set()
    coords = cached.coordinates
    if isinstance(coords, SnowflakeCoordinates):
        return {"snowflake"}
    if isinstance(coords, ObjectStoreCoordinates):
        return {"s3", coords.format}
    return {"legend"}


def partition_date(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


# ---------------------------------------------------------------- sourcing


def read_source(
    resolved: ResolvedDataset,
    day: date,
    snowflake: SnowflakeResource,
    object_store: ObjectStoreResource,
    default_database: str,
    legend: LegendResource,
    log=None,
) -> pd.DataFrame:
    coords = resolved.coordinates
    if isinstance(coords, SnowflakeCoordinates):
        sql, params = partition_query(coords, resolved.schema_, default_database, day)
        with snowflake.get_connection() as conn:
            return read_snowflake(conn, sql, params)
    if isinstance(coords, ObjectStoreCoordinates):
        return read_object_store(
            object_store.store(), resolved.name, coords, object_store.sources_base, day, object_store.allowed_prefixes
        )
    if isinstance(coords, LegendLambdaCoordinates):
        return read_legend(
            legend.session(), legend.url_for(coords, resolved.name), {"date": day.isoformat()},
            coords.page_size, resolved.name, log=log,
        )
    raise SourceError(f"dataset {resolved.name!r}: unsupported coordinates {coords!r}")


def sourcing_asset(
    metric: Metric, dataset: str, partitions: dg.PartitionsDefinition, cached: ResolvedDataset | None
) -> dg.AssetsDefinition:
    @layer_asset(
        key=asset_key(metric.name, SOURCING, dataset),
        group_name=group_name(metric.name, SOURCING),
        partitions_def=partitions,
        description=asset_description(
            metric,
            f"Sourcing `{dataset}`: "
            + ((cached.description if cached else "") or "the logical dataset, read where the catalog says it lives."),
        ),
        owners=owners(metric),
        tags=tags(metric, SOURCING),
        kinds=source_kind(cached) or None,
        retry_policy=retry_policy(metric, None),
        metadata=version_metadata(metric),
    )
    def _source(
        context: dg.AssetExecutionContext,
        catalog: CatalogResource,
        snowflake: SnowflakeResource,
        object_store: ObjectStoreResource,
        legend: LegendResource,
    ):
        with classify_failures(f"sourcing {dataset!r}"):
            resolved = resolve_locked(context, catalog.client(), dataset, metric.name, metric.spec.catalog_datasets())
            if isinstance(resolved.coordinates, SnowflakeCoordinates) and read_in_place(metric, dataset):
                with snowflake.get_connection() as conn:  # a SQL node reads it: it stays in the warehouse
                    table = in_place_source(dataset, resolved.coordinates, snowflake.database, resolved.schema_,
                                            partition_date(context), conn)
                context.add_output_metadata({"catalog_version": resolved.version})
                return table
            frame = read_source(
                resolved, partition_date(context), snowflake, object_store, snowflake.database, legend, context.log
            )
            frame = conform(frame, resolved.schema_, dataset)
        context.add_output_metadata({"catalog_version": resolved.version})
        return frame

    return _source


def upstream_metric_spec(metric: Metric, source: SourcingSpec, partitions: dg.PartitionsDefinition) -> dg.AssetSpec:
    """Another metric's reviewed output that this metric reads (defined and materialized in that
    metric's code location; declared here so the dependency shows in the asset graph)."""
    if source.from_metric is None:
        raise ValueError(f"{source.dataset!r} is not read from another metric")
    return dg.AssetSpec(
        key=asset_key(source.from_metric, REVIEW, source.dataset),
        partitions_def=partitions,
        group_name=group_name(source.from_metric, REVIEW),
        description=source.description
        or f"`{source.dataset}` accepted by the review of metric `{source.from_metric}` (its own code location), "
        f"read by metric `{metric.name}`.",
    )


# ---------------------------------------------------------------- nodes


def node_code_version(metric: Metric, node: NodeSpec) -> str:
    return metric.version.node_version(node.name)  # hashed once per load, with the metric version


def node_input_key(metric: Metric, dataset: str) -> dg.AssetKey:
    """A node input: this metric's own asset, or the reviewed output of the metric it comes from."""
    source = next((s for s in metric.spec.sourcing if s.dataset == dataset), None)
    if source is not None and source.from_metric:
        return asset_key(source.from_metric, REVIEW, dataset)
    return dataset_key(metric, dataset)


def node_out(metric: Metric, layer: str, node: NodeSpec, out, kinds: set[str], runs: str) -> dg.AssetOut:
    """The asset of one output of ``node``; ``runs`` says how the node runs (in its description)."""
    return dg.AssetOut(
        key=asset_key(metric.name, layer, out.dataset),
        group_name=group_name(metric.name, layer),
        owners=owners(metric),
        tags=tags(metric, layer),
        kinds=kinds,
        description=asset_description(
            metric,
            f"`{out.dataset}`, output of {layer} node `{node.name}` ({runs})"
            + (f": {node.description}" if node.description else "."),
        ),
        code_version=node_code_version(metric, node),
        metadata={"node": node.name, "entrypoint": node.entrypoint, "key_columns": out.key,
                  **version_metadata(metric)},
    )


def node_op(metric: Metric, node: NodeSpec, partitions: dg.PartitionsDefinition) -> dict:
    """What every node's ``multi_asset`` is named, partitioned, retried and tagged with."""
    return {"name": f"{metric.name}__{node.name}", "partitions_def": partitions, "backfill_policy": BACKFILL_POLICY,
            "retry_policy": retry_policy(metric, node), "op_tags": {"metric": metric.name, "node": node.name}}


def node_asset(metric: Metric, layer: str, node: NodeSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    if node.is_sql:  # runs in the warehouse: its own wiring (metricdag.factory.sql_assets)
        return sql_node_asset(metric, layer, node, partitions)
    outs = {out.dataset: node_out(metric, layer, node, out, {node.language}, node.language) for out in node.outputs}
    ins = {name: dg.AssetIn(key=node_input_key(metric, name)) for name in node.inputs}
    keys = {out.dataset: asset_key(metric.name, layer, out.dataset) for out in node.outputs}
    checks = check_specs(keys, {out.dataset: out.checks for out in node.outputs}, node.name)

    @dg.multi_asset(outs=outs, ins=ins, check_specs=checks or None, **node_op(metric, node, partitions))
    def _node(context: dg.AssetExecutionContext, catalog: CatalogResource, **inputs: pd.DataFrame):
        metadata: dict[str, dict] = {}
        results_of_checks: list[dg.AssetCheckResult] = []
        with classify_failures(f"node {node.name!r}"):
            client = catalog.client()
            schemas = {
                name: resolve_locked(context, client, name, metric.name, metric.spec.catalog_datasets()).schema_
                for name in node.output_names
            }
            ctx = NodeContext(
                metric=metric.name,
                node=node.name,
                partition_date=partition_date(context),
                params=dict(node.params),
                log=dg.get_dagster_logger(),
            )
            if node.is_jvm:  # the program logs and reports through Dagster Pipes
                with jvm_pipes(context, keys) as session:
                    results = run_node(metric.folder, node, inputs, ctx, schemas,
                                       jvm_env=session.get_bootstrap_env_vars())
                metadata, results_of_checks = reported(node.name, session.get_reported_results(), keys, checks)
            else:
                results = run_node(metric.folder, node, inputs, ctx, schemas)
        for name in node.output_names:
            yield dg.Output(results[name], output_name=name, metadata=metadata.get(name) or None)
        yield from results_of_checks

    return _node


# ---------------------------------------------------------------- review


def review_checks(metric: Metric, review: ReviewSpec, partitions: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    target = dataset_key(metric, review.dataset)
    accepted = asset_key(metric.name, REVIEW, review.dataset)
    key = next((o.key for o in _outputs(metric) if o.dataset == review.dataset), [])
    return [
        _asset_check(target, name, check, partitions, review.dataset, accepted, metric, key)
        for name, check in check_names(review)
    ]


def _bounds(low: float | None, high: float | None) -> str:
    return " and ".join(p for p in (None if low is None else f"at least {low:g}", None if high is None else f"at most {high:g}") if p)


def check_description(check: AnyCheck) -> str:
    if isinstance(check, RecordCountCheck):
        what = f"Row count between {check.min} and {check.max if check.max is not None else 'no maximum'}"
    elif isinstance(check, DailyMinimumCheck):
        what = f"{check.measure} {_bounds(check.min, check.max)} per day"
    elif isinstance(check, VarianceCheck):
        what = (
            f"{check.measure} within {check.max_deviation_pct:g}% of its average over the previous {check.window} "
            f"accepted days, once {check.min_history} are available"
        )
    elif isinstance(check, RangeCheck):
        what = f"Every {check.column} {_bounds(check.min, check.max)}"
    elif isinstance(check, NotNullCheck):
        allowed = "no null" if check.max_null_pct == 0 else f"at most {check.max_null_pct:g}% null"
        what = f"{', '.join(check.columns)}: {allowed}"
    elif isinstance(check, UniqueCheck):
        what = f"No duplicate ({', '.join(check.columns)})" if check.columns else "No duplicate key"
    elif isinstance(check, AcceptedValuesCheck):
        what = f"{check.column} is one of {', '.join(map(str, check.values))}"
    elif isinstance(check, SchemaCheck):
        what = "Columns and types equal the catalog schema"
    elif isinstance(check, SqlCheck):
        what = f"No row returned by: {check.query.strip()}"
    elif isinstance(check, FreshnessCheck):
        what = (f"Source {check.source} has at least {check.min_rows} row(s) for the day by {check.deadline} UTC, "
                f"{check.days_after} day(s) after it; checked before anything computes on it")
    else:
        season = ", by day of week" if check.seasonality == "day_of_week" else ""
        what = (
            f"{check.measure} within a robust z-score of {check.sensitivity:g} of the previous {check.window} accepted "
            f"days{season}, once {check.min_history} are available"
        )
    return f"{what} ({check.severity}{', blocks downstream' if check.severity == 'error' else ''})"


def _asset_check(
    target: dg.AssetKey,
    name: str,
    check: AnyCheck,
    partitions: dg.PartitionsDefinition,
    dataset: str,
    accepted: dg.AssetKey,
    metric: Metric,
    key: list[str],
) -> dg.AssetChecksDefinition:
    with warnings.catch_warnings():
        # A partitioned check (preview in 1.13) is what lets the check read the run's partition
        # instead of every partition; this one known use is quieted here, nothing else.
        warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def.*AssetCheckSpec.*")
        if isinstance(check, FreshnessCheck):
            return _freshness_check(name, check, partitions, dataset, metric)
        if in_warehouse(metric, dataset):  # a SQL node's output: aggregate queries, not its rows
            found = warehouse_check(target, name, check, partitions, dataset, metric, key)
            if found is not None:
                return found
        if isinstance(check, (VarianceCheck, AnomalyCheck)):
            return _variance_check(target, name, check, partitions, dataset, accepted, metric)
        if isinstance(check, SchemaCheck):
            return _catalog_check(target, name, check, partitions, dataset, metric)
        if isinstance(check, UniqueCheck) and not check.columns and not key:
            return _catalog_check(target, name, check, partitions, dataset, metric)  # the catalog schema's key
        return _data_check(target, name, check, partitions, dataset, key, metric)


def _repository(persister: PersisterResource):
    """The run's environment and its audit store (the metrics repository; None: not configured)."""
    env = cached_environment(persister.environment, persister.project_root)
    return env, audit_store_for(env)


def _records(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> bool:
    """Whether the run's evaluations and acceptances go into the metrics repository: not for a
    ``metricdag diff`` run (its files are scratch, its definition not the deployed one)."""
    from metricdag.changes.scratch_run import DIFF_TAG  # imports the factory: only at run time

    return DIFF_TAG not in context.run.tags


def _result(
    outcome: CheckOutcome, check: AnyCheck, context: dg.AssetCheckExecutionContext, persister: PersisterResource,
    metric: Metric, dataset: str, name: str,
) -> dg.AssetCheckResult:
    """The check's result; the evaluation is recorded in the metrics repository when the
    environment has one. A blocking check that must be backtested first runs as warn and says so."""
    severity = dg.AssetCheckSeverity.ERROR if check.severity == "error" else dg.AssetCheckSeverity.WARN
    env, store = _repository(persister)
    with classify_failures(f"reading the backtests of check {name!r} of {dataset!r}"):
        demoted = demotion(env, store, metric.name, dataset, name, check)
    if demoted is not None:
        severity = dg.AssetCheckSeverity.WARN
        outcome = CheckOutcome(outcome.passed, f"{outcome.description} ({demoted})", {**outcome.metadata, "gate": demoted})
    if store is not None and _records(context):
        with classify_failures(f"recording check {name!r} of {dataset!r} in the metrics repository"):
            store.record_evaluation(evaluation(
                environment=env.name, metric=metric.name, dataset=dataset, name=name, check=check,
                partition=context.partition_key, run_id=context.run.run_id, outcome=outcome,
                severity=severity.value.lower(), metric_version=metric.version.version,
            ))
    metadata = {k: ("none" if v is None else v) for k, v in outcome.metadata.items()}
    return dg.AssetCheckResult(
        passed=outcome.passed, severity=severity, description=outcome.description, metadata=metadata
    )


def gate_check(asset: dg.AssetKey, name: str, check: ReviewCheck, partitions: dg.PartitionsDefinition, **more):
    """``@dg.asset_check`` for one review check: partitioned, described, blocking when its severity is error."""
    return dg.asset_check(
        asset=asset, name=name, blocking=check.severity == "error", partitions_def=partitions,
        description=check_description(check), **more,
    )


def _data_check(
    target: dg.AssetKey,
    name: str,
    check: RecordCountCheck | DailyMinimumCheck | RangeCheck | NotNullCheck | UniqueCheck | AcceptedValuesCheck | SqlCheck,
    partitions: dg.PartitionsDefinition,
    dataset: str,
    key: list[str],
    metric: Metric,
) -> dg.AssetChecksDefinition:
    """A check that needs only the day's data."""

    @gate_check(target, name, check, partitions)
    def _check(
        context: dg.AssetCheckExecutionContext, persister: PersisterResource, data: pd.DataFrame
    ) -> dg.AssetCheckResult:
        with classify_failures(f"check {name!r} of {dataset!r}"):
            outcome = data_outcome(data, check, dataset, key)
        return _result(outcome, check, context, persister, metric, dataset, name)

    return _check


def _catalog_check(
    target: dg.AssetKey,
    name: str,
    check: SchemaCheck | UniqueCheck,
    partitions: dg.PartitionsDefinition,
    dataset: str,
    metric: Metric,
) -> dg.AssetChecksDefinition:
    """A check that needs the dataset's catalog schema at the version the run is locked to: a
    schema check, or a unique check on the catalog's key (the output declares none)."""

    @gate_check(target, name, check, partitions)
    def _check(
        context: dg.AssetCheckExecutionContext, catalog: CatalogResource, persister: PersisterResource, data: pd.DataFrame
    ) -> dg.AssetCheckResult:
        with classify_failures(f"{check.type} check of {dataset!r}"):
            resolved = resolve_locked(context, catalog.client(), dataset, metric.name, metric.spec.catalog_datasets())
            if isinstance(check, UniqueCheck):
                outcome = data_outcome(data, check, dataset, resolved.schema_.key)
            else:
                outcome = schema_check(data, resolved.schema_, resolved.version)
        return _result(outcome, check, context, persister, metric, dataset, name)

    return _check


def _freshness_check(
    name: str, check: FreshnessCheck, partitions: dg.PartitionsDefinition, dataset: str, metric: Metric
) -> dg.AssetChecksDefinition:
    """A check on the sourcing asset of ``check.source``: blocking, it stops the run before any
    node computes on a source that is late or not complete yet (recorded under ``dataset``'s review)."""

    source = asset_key(metric.name, SOURCING, check.source)
    if read_in_place(metric, check.source):  # a Snowflake source a SQL node reads: count, do not fetch
        @gate_check(source, name, check, partitions)
        def _counted(
            context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource, persister: PersisterResource
        ) -> dg.AssetCheckResult:
            with classify_failures(f"check {name!r} of {check.source!r}"):
                rows = object_store.rows(source, context.partition_key)
            outcome = freshness(rows, partition_date(context), check, datetime.now(timezone.utc))
            return _result(outcome, check, context, persister, metric, dataset, name)

        return _counted

    @gate_check(source, name, check, partitions)
    def _check(
        context: dg.AssetCheckExecutionContext, persister: PersisterResource, data: pd.DataFrame
    ) -> dg.AssetCheckResult:
        outcome = freshness(len(data), partition_date(context), check, datetime.now(timezone.utc))
        return _result(outcome, check, context, persister, metric, dataset, name)

    return _check


def _variance_check(
    target: dg.AssetKey,
    name: str,
    check: VarianceCheck | AnomalyCheck,
    partitions: dg.PartitionsDefinition,
    dataset: str,
    accepted: dg.AssetKey,
    metric: Metric,
) -> dg.AssetChecksDefinition:
    """The day's measure against the previous accepted days: its average (variance) or its
    seasonally adjusted median and spread (anomaly). The history comes from the metrics
    repository; without one (or for days it does not know) from the review layer's files."""

    @gate_check(target, name, check, partitions)
    def _check(
        context: dg.AssetCheckExecutionContext,
        object_store: ObjectStoreResource,
        persister: PersisterResource,
        data: pd.DataFrame,
    ) -> dg.AssetCheckResult:
        read = object_store.reader(accepted)
        day = partition_date(context)
        env, store = _repository(persister)
        with classify_failures(f"check {name!r} of {dataset!r}"):
            history, known = check_history(store, env, metric, dataset, check, day, read)
            value = measure(data, check.measure, dataset)
        return _result(history_outcome(check, value, day, history, known), check, context, persister, metric,
                       dataset, name)

    return _check


def check_history(store, env, metric: Metric, dataset: str, check: VarianceCheck | AnomalyCheck, day, read):
    """The accepted days before ``day`` a variance or anomaly check compares with, and how many of
    them the metrics repository knew: from the repository, with ``read`` for the days it does not
    know (all of them without a repository)."""
    if store is None:
        return accepted_history(read, day, check.window, check.measure, dataset), 0
    return repository_history(store, env.name, metric.name, dataset, check.measure, day, check.window, read)


def history_outcome(check: VarianceCheck | AnomalyCheck, value, day, history, known: int) -> CheckOutcome:
    """The day's ``value`` against its ``history`` (:func:`check_history`), with the days compared."""
    if isinstance(check, AnomalyCheck):
        outcome = anomaly(value, day, [(p.day, p.value) for p in history], check)
    else:
        outcome = variance(value, [p.value for p in history], check)
    days = ", ".join(p.day.isoformat() for p in history) or "none"
    found = {**outcome.metadata, "history_partitions": days, "history_from_repository": known}
    return CheckOutcome(outcome.passed, outcome.description, found)


def review_asset(metric: Metric, dataset: str, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @layer_asset(
        key=asset_key(metric.name, REVIEW, dataset),
        ins={"data": dg.AssetIn(key=dataset_key(metric, dataset), metadata={READ_AS: IN_PLACE})},
        group_name=group_name(metric.name, REVIEW),
        partitions_def=partitions,
        description=asset_description(metric, f"`{dataset}` after every blocking review check passed: the accepted data."),
        owners=owners(metric),
        tags=tags(metric, REVIEW),
        kinds={"parquet"},
        code_version=metric.version.version,  # a changed gating check or node: unsynced
        metadata=version_metadata(metric),
    )
    def _accepted(context: dg.AssetExecutionContext, persister: PersisterResource, data):  # rows, or a warehouse table
        env, store = _repository(persister)
        if store is not None and _records(context):  # the accepted history the variance and anomaly checks read
            with classify_failures(f"recording the acceptance of {dataset!r} in the metrics repository"):
                store.record_acceptance(environment=env.name, metric=metric.name, dataset=dataset,
                                        partition=context.partition_key, run_id=context.run.run_id)
        return data

    return _accepted


# ---------------------------------------------------------------- persistence


def persist_asset(metric: Metric, persist: PersistSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    source = asset_key(metric.name, REVIEW, persist.dataset)

    @layer_asset(
        key=asset_key(metric.name, PERSISTED, persist.dataset),
        deps=[source],
        group_name=group_name(metric.name, PERSISTED),
        partitions_def=partitions,
        description=asset_description(
            metric, f"`{persist.dataset}` loaded into Snowflake table `{persist.table}` by the persister."
        ),
        owners=owners(metric),
        tags=tags(metric, PERSISTED),
        kinds={"snowflake"},
        retry_policy=retry_policy(metric, None),
        code_version=metric.version.version,  # any definition change: unsynced in the UI
        metadata=version_metadata(metric),
    )
    def _persist(
        context: dg.AssetExecutionContext, object_store: ObjectStoreResource, persister: PersisterResource
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        version = metric.version
        with classify_failures(f"persisting {persist.dataset!r} into {persist.table}"):
            # exactly the review file this run wrote (or the run it re-executes), never a newer one
            chain = run_chain(context)
            uri = object_store.run_location(source, context.partition_key, chain)
            table = object_store.table_of(uri)  # a SQL node's output: copied table to table
            origin = (
                {"source_uri": uri} if table is None else
                {"source_table": table.sql, "source_partition_column": table.partition_column,
                 "source_columns": table.columns}
            )
            facts = run_facts(  # what this run read and how the review judged it, for the lineage record
                context.instance, chain, {s.dataset: node_input_key(metric, s.dataset) for s in metric.spec.sourcing},
                dataset_key(metric, persist.dataset), context.partition_key,
            )
            result = persister.persist(
                PersistRequest(
                    environment=persister.environment,
                    dataset=persist.dataset,
                    database=persister.database,
                    schema=persist_schema(persist, context.run.tags),
                    table=persist.table_name,
                    **origin,
                    partition_column=persist.partition_column,
                    partition_value=partition_date(context),
                    key_columns=[k for o in _outputs(metric) if o.dataset == persist.dataset for k in o.key],
                    run_id=context.run.run_id,
                    metric=metric.name,
                    catalog_versions=run_locks(context),  # for the audit record of this load
                    metric_version=version.version,
                    node_versions=version.node_versions(),
                    input_rows=facts.input_rows,
                    review_results=facts.review_results,
                )
            )
        return dg.MaterializeResult(
            metadata={
                "table": result.table,
                "partition": str(result.partition),
                "rows_loaded": result.rows_loaded,
                "source_uri": dg.MetadataValue.path(result.source_uri),
                "checksum": result.checksum,
                METRIC_VERSION_KEY: version.version,
                "persister_seconds": round(time.perf_counter() - started, 3),
                "dagster/row_count": result.rows_loaded,
            }
        )

    return _persist


def persist_schema(persist: PersistSpec, run_tags) -> str:
    """The target schema: production, or a backfill's staging schema when the run is tagged."""
    staging = run_tags.get(STAGING_TAG)
    return staging_schema(persist.schema_name, staging) if staging else persist.schema_name


def _outputs(metric: Metric):
    return [out for _, node in metric.spec.nodes() for out in node.outputs]


# ---------------------------------------------------------------- retries


def retry_policy(metric: Metric, node: NodeSpec | None) -> dg.RetryPolicy | None:
    spec = metric.retry_policy(node.retry_policy if node else None)
    if spec.max_retries == 0:
        return None
    if not spec.delay_s:  # retry at once: backoff and jitter scale a delay, so there is nothing for them to do
        return dg.RetryPolicy(max_retries=spec.max_retries)
    backoff = {"none": None, "linear": dg.Backoff.LINEAR, "exponential": dg.Backoff.EXPONENTIAL}[spec.backoff]
    jitter = {"none": None, "full": dg.Jitter.FULL, "plus_minus": dg.Jitter.PLUS_MINUS}[spec.jitter]
    return dg.RetryPolicy(max_retries=spec.max_retries, delay=spec.delay_s, backoff=backoff, jitter=jitter)
