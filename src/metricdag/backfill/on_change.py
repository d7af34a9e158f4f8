"""``on_change: {backfill_days: N}``: a new metric version recomputes the metric's recent history.

Dagster's own automation: the sensor ``<metric>__on_change`` keeps the metric version it last
saw in its cursor. When the code location loads a different version (the metric was changed and
deployed), it requests one run of the job ``<metric>__backfill_on_change`` (run key
``<metric>:<version>``, so a version is backfilled once), which runs :func:`run_backfill` over
the last N days up to the last partition published to production: staging, every review check,
then one publish, exactly as ``metricdag backfill`` does. The first evaluation only records the
version (there is no earlier one to compare with).
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
from sqlalchemy import func, select

from metricdag.audit.models import LoadRecord
from metricdag.audit.store import audit_store_for
from metricdag.settings import Environment
from metricdag.spec.loader import Metric

VERSION_TAG = "metricdag.metric_version"
PUBLISHED_STATUSES = ("loaded", "reloaded", "already_loaded")


def on_change_job_name(metric: str) -> str:
    return f"{metric}__backfill_on_change"


def last_published_day(env: Environment, metric: Metric) -> date | None:
    """The newest partition of the metric's persisted tables in production (audit store)."""
    store = audit_store_for(env)
    if store is None or not metric.spec.persist:
        return None
    from metricdag.persistence.sql import TableRef

    tables = [TableRef(env.snowflake.database, p.schema_name, p.table_name).sql for p in metric.spec.persist]
    with store.session() as s:
        newest = s.scalar(
            select(func.max(LoadRecord.partition)).where(
                LoadRecord.environment == env.name, LoadRecord.table.in_(tables),
                LoadRecord.status.in_(PUBLISHED_STATUSES),
            )
        )
    return date.fromisoformat(newest) if newest else None


def recent_days(last: date, n: int, first_partition: date) -> list[date]:
    """The ``n`` days up to ``last``, oldest first, none before the first partition."""
    return [d for d in (last - timedelta(days=k) for k in range(n - 1, -1, -1)) if d >= first_partition]


def on_change_job(metric: Metric, env: Environment) -> dg.JobDefinition:
    folder = metric.folder

    @dg.op(
        name=f"{metric.name}__backfill_recent",
        config_schema={"from_date": str, "to_date": str},
        out=dg.Out(dg.Nothing),  # the result is the publish; nothing goes through an IO manager
        description=f"metricdag backfill of {metric.name} over the configured range (staging, review, one publish).",
    )
    def backfill_recent(context):  # no annotation: this module uses postponed annotations
        from metricdag.backfill.cli import report
        from metricdag.backfill.range import parse_day, partition_days
        from metricdag.backfill.run import run_backfill

        cfg = context.op_config
        days = partition_days(parse_day(cfg["from_date"], "from_date"), parse_day(cfg["to_date"], "to_date"),
                              metric.spec.partitions.start_date, metric=metric.name)
        result = run_backfill(folder, env, days, context.instance,
                              on_done=lambda o: context.log.info(f"{o.day}: {'ok' if o.ok else '; '.join(o.causes)}"))
        text = report(result, 0.0)
        if not result.ok:
            raise dg.Failure(description=text)
        context.log.info(text)

    @dg.job(name=on_change_job_name(metric.name), executor_def=dg.in_process_executor,
            description=f"Recompute the last {metric.spec.on_change.backfill_days if metric.spec.on_change else 0} "
            f"published days of {metric.name} when its version changes.",
            tags={"metric": metric.name})
    def _job():
        backfill_recent()

    return _job


def on_change_sensor(metric: Metric, env: Environment, job: dg.JobDefinition, version: str) -> dg.SensorDefinition:
    """``version`` is the metric version of the definitions loaded now (computed from local files)."""
    if metric.spec.on_change is None:
        raise ValueError(f"metric {metric.name} has no on_change")
    n = metric.spec.on_change.backfill_days

    @dg.sensor(name=f"{metric.name}__on_change", job=job, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"When the version of {metric.name} changes: backfill its last {n} published days.")
    def _sensor(context: dg.SensorEvaluationContext):
        seen = context.cursor
        if seen == version:
            return dg.SkipReason(f"metric version {version} unchanged")
        if seen is None:
            context.update_cursor(version)
            return dg.SkipReason(f"first evaluation: metric version {version} recorded")
        last = last_published_day(env, metric)
        if last is None:
            context.update_cursor(version)
            return dg.SkipReason(f"metric version {seen} -> {version}, but nothing is published yet")
        days = recent_days(last, n, metric.spec.partitions.start_date)
        context.update_cursor(version)
        return dg.RunRequest(
            run_key=f"{metric.name}:{version}",
            run_config={"ops": {f"{metric.name}__backfill_recent": {"config": {
                "from_date": days[0].isoformat(), "to_date": days[-1].isoformat()}}}},
            tags={VERSION_TAG: version, "metric": metric.name},
        )

    return _sensor
