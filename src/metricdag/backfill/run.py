"""Run a backfill: every partition of a range, oldest first, then publish (or not) at once.

``staging`` mode (the default): each partition's run carries the run tag
:data:`~metricdag.persistence.publish.STAGING_TAG`, so its persist steps load into
``<SCHEMA>__STAGING_<id>``; production is not touched while the range computes. When every
partition passed every blocking review check, the range of each persisted table is published
in one transaction (:func:`metricdag.persistence.publish.publish_range`); otherwise nothing is
published. The staging schema is dropped afterwards either way (``keep_staging`` keeps it).

``in-place`` mode: the day-by-day path (each partition's run loads production itself), for
ranges too large for one transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import dagster as dg

from metricdag.audit.store import AuditStore, Publication, audit_store_for
from metricdag.backfill.causes import failure_causes
from metricdag.catalog.client import CatalogClient
from metricdag.errors import MetricdagError
from metricdag.factory.lock_tags import resolve_lock_tags
from metricdag.persistence.publish import (
    STAGING_TAG,
    PublishTarget,
    TablePublished,
    drop_staging,
    publish_range,
    staging_schema,
)
from metricdag.persistence.sql import TableRef
from metricdag.day_run import SummaryRow, materialize_metric
from metricdag.settings import Environment
from metricdag.spec.loader import Metric, load_metric
from metricdag.spec.layers import PERSISTED

log = logging.getLogger(__name__)

PublishMode = Literal["staging", "in-place"]
BACKFILL_TAG = "metricdag.backfill"  # every run of one backfill carries its id
PARTITION_TAG = "dagster/partition"


@dataclass(frozen=True)
class PartitionOutcome:
    day: date
    ok: bool
    run_id: str
    causes: list[str] = field(default_factory=list)


@dataclass
class BackfillResult:
    metric: str
    backfill_id: str
    mode: PublishMode
    partitions: list[PartitionOutcome] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)
    published: list[TablePublished] = field(default_factory=list)
    publish_error: str | None = None
    staging_schemas: list[str] = field(default_factory=list)
    staging_kept: bool = False

    @property
    def failed(self) -> list[PartitionOutcome]:
        return [p for p in self.partitions if not p.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and self.publish_error is None


def new_backfill_id() -> str:
    return uuid.uuid4().hex[:10].upper()


def publish_targets(metric: Metric, database: str, backfill_id: str) -> list[PublishTarget]:
    return [
        PublishTarget(
            dataset=p.dataset,
            production=TableRef(database, p.schema_name, p.table_name),
            staging=TableRef(database, staging_schema(p.schema_name, backfill_id), p.table_name),
            partition_column=p.partition_column,
        )
        for p in metric.spec.persist
    ]


def partition_run_id(instance: dg.DagsterInstance, backfill_id: str, day: date) -> str:
    """The id of the (latest) run of ``day`` in this backfill."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id, PARTITION_TAG: day.isoformat()}), limit=1
    )
    return runs[0].dagster_run.run_id if runs else ""


def run_backfill(
    folder: Path,
    env: Environment,
    days: list[date],
    instance: dg.DagsterInstance,
    *,
    mode: PublishMode = "staging",
    keep_staging: bool = False,
    backfill_id: str | None = None,
    on_start: Callable[[date], None] | None = None,
    on_done: Callable[[PartitionOutcome], None] | None = None,
) -> BackfillResult:
    """Compute ``days`` (oldest first) through every layer; in staging mode publish them at once
    when every one passed. Never raises for a failed partition: the result names it and why."""
    metric = load_metric(folder, env.project_root)
    backfill_id = backfill_id or new_backfill_id()
    result = BackfillResult(metric.name, backfill_id, mode)
    # one version lock for the whole range: every partition reads the same input versions
    tags = resolve_lock_tags(CatalogClient.for_environment(env), metric.spec.catalog_datasets())
    tags[BACKFILL_TAG] = backfill_id
    if mode == "staging":
        tags[STAGING_TAG] = backfill_id
    targets = publish_targets(metric, env.snowflake.database, backfill_id)
    result.staging_schemas = sorted({t.staging.schema for t in targets}) if mode == "staging" else []
    try:
        for day in sorted(days):
            if on_start:
                on_start(day)
            ok, rows = materialize_metric(folder, env, day.isoformat(), instance, extra_tags=tags, verbose=False)
            run_id = partition_run_id(instance, backfill_id, day)
            causes = [] if ok else (failure_causes(instance, run_id) if run_id else []) or ["the run failed"]
            outcome = PartitionOutcome(day, ok, run_id, causes)
            result.partitions.append(outcome)
            result.summary += rows
            if on_done:
                on_done(outcome)
        if mode == "staging" and not result.failed and targets:
            try:
                result.published = publish_range(env.snowflake, targets, days, backfill_id)
            except MetricdagError as exc:  # rolled back: production is as it was
                result.publish_error = str(exc)
            else:
                record_published(env, metric, result, tags)
                announce_published(env, metric, result)
                report_materializations(instance, metric, result)
    finally:
        if mode == "staging" and targets:
            if keep_staging and not result.ok:
                result.staging_kept = True
            else:
                try:
                    drop_staging(env.snowflake, env.snowflake.database, result.staging_schemas)
                except MetricdagError as exc:  # the outcome stands; the schema is left to drop by hand
                    log.warning("could not drop staging schema(s) %s: %s", ", ".join(result.staging_schemas), exc)
                    result.staging_kept = True
    return result


def record_published(env: Environment, metric: Metric, result: BackfillResult, tags: dict[str, str]) -> None:
    """Each published partition in the audit store; a changed one also becomes the production
    partition's ledger entry: the staged file's checksum and the fingerprint the persister took of
    the staged rows, which production now holds column for column (copied by name), so the next
    daily load of identical content is recognised as already loaded."""
    from metricdag.factory.lock_tags import locks_in

    store = audit_store_for(env)
    if store is None:
        return
    versions = locks_in(tags)
    for table in result.published:
        for part in table.partitions:
            staged = store.last_load(env.name, table.staging, part.day.isoformat())
            detail = f"backfill {result.backfill_id}: published from {table.staging}"
            lineage = staged_publication(store, env.name, metric.name, table, part.day.isoformat())
            store.record_load(
                environment=env.name, metric=metric.name, dataset=table.dataset, table=table.table,
                partition=part.day.isoformat(), rows=part.rows, checksum=staged.checksum if staged else "",
                run_id=staged.run_id if staged else result.backfill_id,
                status="loaded" if part.changed and staged else "already_loaded", catalog_versions=versions,
                fingerprint=staged.fingerprint if staged else None,
                detail=detail if part.changed else detail + " (unchanged)",
                publication=lineage if part.changed else None,
            )


def staged_publication(
    store: AuditStore, environment: str, metric: str, table: TablePublished, partition: str
) -> Publication | None:
    """The lineage the staging load recorded, now the production partition's (its rows were copied
    column for column, metadata columns included)."""
    records = store.publications(environment, metric, dataset=table.dataset, partition=partition, table=table.staging)
    if not records:
        return None
    r = records[-1]
    return Publication(
        partition_column=r.partition_column, key_columns=list(r.key_columns), metric_version=r.metric_version,
        node_versions=dict(r.node_versions), input_rows=dict(r.input_rows), review_results=list(r.review_results),
        loaded_at=r.loaded_at, rows_run_id=r.rows_run_id,
    )


def announce_published(env: Environment, metric: Metric, result: BackfillResult) -> None:
    """``dataset_published`` for each partition the publish changed (the persister emits nothing for
    a staging load), so metrics that consume the dataset recompute those days; an event source
    that is down is a warning, never a failed backfill."""
    if env.events is None:
        return
    from metricdag.events.models import DATASET_PUBLISHED
    from metricdag.events.sources import emit

    for table in result.published:
        for part in table.changed:
            payload = {"dataset": table.dataset, "table": table.table, "partition": part.day.isoformat(),
                       "date": part.day.isoformat(), "rows": part.rows, "run_id": result.backfill_id,
                       "metric": metric.name, "backfill": result.backfill_id}
            try:
                emit(env, DATASET_PUBLISHED, payload)
            except Exception as exc:
                log.warning("could not emit %s for %s %s: %s", DATASET_PUBLISHED, table.table, part.day, exc)


def report_materializations(instance: dg.DagsterInstance, metric: Metric, result: BackfillResult) -> None:
    """A materialization of each published partition of the persisted assets, naming the production
    table: the staging runs' own materializations name the staging table, and the asset's latest
    materialization should say where its rows are now."""
    from metricdag.factory.assets import asset_key

    for table in result.published:
        for part in table.partitions:
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=asset_key(metric.name, PERSISTED, table.dataset),
                partition=part.day.isoformat(),
                description=f"published by backfill {result.backfill_id} from {table.staging}",
                metadata={"table": table.table, "rows_loaded": part.rows, "dagster/row_count": part.rows,
                          "backfill_id": result.backfill_id, "changed": part.changed},
            ))
