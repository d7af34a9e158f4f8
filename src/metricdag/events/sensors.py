"""One event sensor per metric location: events -> run requests of the mapped nodes."""

from __future__ import annotations

import json
from functools import lru_cache
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import dagster as dg

from metricdag.events.models import Event, MalformedEvent, Target, matching_targets, partition_of
from metricdag.events.selection import MissingUpstreams, dependency_graph, missing_upstreams, node_groups, selection_for
from metricdag.events.sources import source_for
from metricdag.factory.assets import asset_key
from metricdag.factory.build import job_name
from metricdag.factory.lock_tags import resolve_lock_tags
from metricdag.io.resource import ObjectStoreResource
from metricdag.resources import CatalogResource
from metricdag.settings import Environment
from metricdag.spec.loader import Metric
from metricdag.spec.layers import PERSISTED

EVENT_ID_TAG = "metricdag/event_id"
EVENT_TYPE_TAG = "metricdag/event_type"
POLL_LIMIT = 100


def event_sensor_name(metric: str) -> str:
    return f"{metric}__events"


def event_sensor(
    metric: Metric,
    env: Environment,
    job,
    assets: Sequence[dg.AssetsDefinition],
    targets: dict[str, list[Target]],
) -> dg.SensorDefinition:
    """Reads the environment's event source; run key = event id; cursor = the source's cursor.
    The first evaluation of a log-like source (inbox, object prefix) starts after what it already
    holds, so a new deployment does not replay history; a queue's backlog is handled.

    Selections are computed here (definitions load) so a bad ``select:`` fails the location
    with a message naming events.yaml, not at the first event. Each run also materializes every
    upstream of its selection in this location that has no data for the event's day (a day never
    computed before); when an upstream of another metric has none, no run is started and the
    event is dead-lettered with the reason and what to run first."""
    graph = dependency_graph(assets)
    groups = node_groups(assets)
    persisted = {asset_key(metric.name, PERSISTED, p.dataset) for p in metric.spec.persist}
    selections = {
        event_type: {t: selection_for(metric, [t], graph) for t in ts} for event_type, ts in targets.items()
    }
    start_date = metric.spec.partitions.start_date.isoformat()
    datasets = metric.spec.catalog_datasets()

    @dg.sensor(
        name=event_sensor_name(metric.name),
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Starts {metric.name} runs for events: {', '.join(sorted(targets))}.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, catalog: CatalogResource, object_store: ObjectStoreResource
    ) -> dg.SensorResult:
        source = source_for(env, metric.name)
        if context.cursor is None:  # first evaluation: start after what a log-like source already holds
            start = source.end_cursor()
            if start is not None:
                return dg.SensorResult(
                    skip_reason=dg.SkipReason("first evaluation: starting after the events already there"), cursor=start
                )
        events, cursor = source.poll(context.cursor, POLL_LIMIT)
        present = _presence(object_store, persisted, context.instance)
        requests: list[dg.RunRequest] = []
        lock: dict[str, str] | None = None  # one fresh lock per evaluation, shared by its runs
        oldest = datetime.now(timezone.utc) - timedelta(hours=env.events.max_age_h if env.events else 48)
        for event in events:
            if _aware(event.emitted_at) < oldest:
                context.log.info(f"event {event.id} ({event.type}) emitted {event.emitted_at} is too old: skipped")
                continue
            request = _request_for(event, targets, selections, start_date, context)
            if request is None:
                continue
            if isinstance(request, str):  # a well-formed envelope whose payload cannot be used
                source.dead_letter(event.model_dump_json().encode(), request, name=event.id)
                continue
            partition, keys = request
            missing = missing_upstreams(graph, keys, lambda key: present(key, partition), groups)
            if missing.external:
                reason = _external_reason(event, metric.name, partition, missing)
                context.log.warning(reason)
                source.dead_letter(event.model_dump_json().encode(), reason, name=f"{event.id}.{metric.name}")
                continue
            if missing.add:
                context.log.info(
                    f"event {event.id} ({event.type}): {partition} has no data yet for "
                    f"{', '.join(sorted(k.to_user_string() for k in missing.add))}: materialized in the same run"
                )
                keys = sorted({*keys, *missing.add}, key=lambda k: k.to_user_string())
            if lock is None:
                lock = resolve_lock_tags(catalog.client(), datasets)
            tags = {
                **lock,
                EVENT_ID_TAG: event.id,
                EVENT_TYPE_TAG: event.type,
            }
            requests.append(dg.RunRequest(run_key=event.id, partition_key=partition, asset_selection=keys, tags=tags))
        skip = None if requests else dg.SkipReason(f"no run to start for {len(events)} new event(s)")
        return dg.SensorResult(run_requests=requests, cursor=cursor, skip_reason=skip)

    return _sensor


def _request_for(
    event: Event,
    targets: dict[str, list[Target]],
    selections: dict[str, dict[Target, list[dg.AssetKey]]],
    start_date: str,
    context: dg.SensorEvaluationContext,
) -> tuple[str, list[dg.AssetKey]] | str | None:
    matched = matching_targets(event, targets)
    if not matched:
        return None
    try:
        partition = partition_of(event, datetime.now(timezone.utc).date())
    except MalformedEvent as exc:
        context.log.warning(f"event {event.id} ({event.type}) moved to the dead-letter place: {exc}")
        return str(exc)
    if partition < start_date:
        context.log.info(f"event {event.id}: partition {partition} is before the first partition {start_date}")
        return None
    keys: set[dg.AssetKey] = set()
    for target in matched:
        keys.update(selections[event.type][target])
    return partition, sorted(keys, key=lambda k: k.to_user_string())


def _presence(data: ObjectStoreResource, persisted: set[dg.AssetKey], instance: dg.DagsterInstance):
    """``present(key, partition)``: whether an asset has data for a partition: the Parquet file its
    readers load (the IO manager's current file); a persisted asset (loaded into Snowflake, no
    file of its own) by its materializations in the instance. Cached for one evaluation."""

    @lru_cache(maxsize=None)
    def present(key: dg.AssetKey, partition: str) -> bool:
        if key in persisted:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
            ).records
            return bool(records)
        return data.location(key, partition) is not None

    return present


def _external_reason(event: Event, metric: str, partition: str, missing: MissingUpstreams) -> str:
    owners = sorted({key.path[0] for key in missing.external})
    names = ", ".join(sorted(k.to_user_string() for k in missing.external))
    produce = "; ".join(
        f"materialize partition {partition} of {owner} (job {job_name(owner)}; locally "
        f"`metricdag run --metric {owner} --date {partition}`)"
        for owner in owners
    )
    return (
        f"event {event.id} ({event.type}): no {metric} run started for {partition}: it needs {names} of "
        f"another metric, which has no data for {partition}. First {produce}, then send the event again "
        f"(`metricdag event send {event.type} --payload '{json.dumps(event.payload)}'`)."
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
