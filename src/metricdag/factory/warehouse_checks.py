"""Asset-check wiring for a SQL node's output: each check is an aggregate query in the warehouse
(:mod:`metricdag.review.warehouse_checks`), so the check never loads the day's rows.

No ``from __future__ import annotations``: Dagster reads the annotations of check functions.
"""

import warnings

import dagster as dg

from metricdag.factory.lock_tags import resolve_locked
from metricdag.io.resource import ObjectStoreResource
from metricdag.resources import CatalogResource, PersisterResource
from metricdag.retries import classify_failures
from metricdag.review.checks import AnyCheck
from metricdag.review.warehouse_checks import measure_in_warehouse, runs_in_warehouse, warehouse_outcome
from metricdag.settings import cached_environment
from metricdag.spec.loader import Metric
from metricdag.spec.models import AnomalyCheck, SchemaCheck, UniqueCheck, VarianceCheck


def in_warehouse(metric: Metric, dataset: str) -> bool:
    """Whether ``dataset`` is a SQL node's output (it lives in the warehouse)."""
    return any(node.is_sql and dataset in node.output_names for _, node in metric.spec.nodes())


def warehouse_check(
    target: dg.AssetKey, name: str, check: AnyCheck, partitions: dg.PartitionsDefinition, dataset: str,
    metric: Metric, key: list[str],
) -> dg.AssetChecksDefinition | None:
    """The check as queries in the warehouse; None when the check needs the rows (a ``sql`` check)."""
    from metricdag.factory.assets import _result, gate_check  # assets.py calls this

    if isinstance(check, (VarianceCheck, AnomalyCheck)):
        return _history_check(target, name, check, partitions, dataset, metric)
    if not runs_in_warehouse(check):
        return None
    needs_catalog = isinstance(check, SchemaCheck) or (isinstance(check, UniqueCheck) and not check.columns and not key)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def.*AssetCheckSpec.*")

        @gate_check(target, name, check, partitions)
        def _check(
            context: dg.AssetCheckExecutionContext,
            object_store: ObjectStoreResource,
            persister: PersisterResource,
            catalog: CatalogResource,
        ) -> dg.AssetCheckResult:
            with classify_failures(f"check {name!r} of {dataset!r}"):
                table = object_store.warehouse_partition(target, context.partition_key)
                env = cached_environment(persister.environment, persister.project_root)
                schema = version = None
                if needs_catalog:
                    resolved = resolve_locked(context, catalog.client(), dataset, metric.name,
                                              metric.spec.catalog_datasets())
                    schema, version = resolved.schema_, resolved.version
                outcome = warehouse_outcome(env.snowflake, table, check, dataset,
                                            schema.key if (schema and isinstance(check, UniqueCheck)) else key,
                                            schema, version)
            return _result(outcome, check, context, persister, metric, dataset, name)

    return _check


def _history_check(target, name, check, partitions, dataset, metric):
    """Variance or anomaly: the day's measure as one aggregate query; the accepted history from the
    metrics repository (days it does not know have no value: the review layer holds no rows)."""
    from metricdag.factory.assets import (
        _repository,
        _result,
        check_history,
        gate_check,
        history_outcome,
        partition_date,
    )

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def.*AssetCheckSpec.*")

        @gate_check(target, name, check, partitions)
        def _check(
            context: dg.AssetCheckExecutionContext, object_store: ObjectStoreResource, persister: PersisterResource
        ) -> dg.AssetCheckResult:
            day = partition_date(context)
            env, store = _repository(persister)
            with classify_failures(f"check {name!r} of {dataset!r}"):
                table = object_store.warehouse_partition(target, context.partition_key)
                value = measure_in_warehouse(env.snowflake, table, check.measure)
                unknown = lambda _day: None  # noqa: E731  (no rows are read for a history day)
                history, known = check_history(store, env, metric, dataset, check, day, unknown)
            return _result(history_outcome(check, value, day, history, known), check, context, persister,
                           metric, dataset, name)

    return _check
