"""Materialize metrics for one day, in process, and summarise what happened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import dagster as dg

from metricdag.catalog.client import CatalogClient
from metricdag.errors import MetricdagError
from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.locks import resolve_lock_tags
from metricdag.spec.loader import load_metric
from metricdag.settings import Environment


@dataclass(frozen=True)
class SummaryRow:
    metric: str
    partition: str
    asset: str
    rows: int | None
    seconds: float
    status: str


def _rows(metadata: dict) -> int | None:
    for key in ("rows_loaded", "rows", "dagster/row_count"):
        if key in metadata:
            return int(metadata[key].value)
    return None


def summarize(instance: dg.DagsterInstance, run_id: str, metric: str, partition: str) -> list[SummaryRow]:
    """One row per asset (and per check) from the run's event log."""
    started: dict[str, float] = {}
    finished: dict[str, float] = {}
    outcome: dict[str, str] = {}
    rows: list[tuple[str, str, int | None]] = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        step = event.step_key or ""
        kind = event.event_type_value
        if kind == "STEP_START":
            started.setdefault(step, record.timestamp)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            finished[step] = record.timestamp
            outcome[step] = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "failed", "STEP_SKIPPED": "skipped"}[kind]
        elif kind == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            rows.append((step, mat.asset_key.to_user_string(), _rows(mat.metadata)))
        elif kind == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            label = f"{ev.asset_key.to_user_string()} [check {ev.check_name}]"
            rows.append((step, label, None))
            outcome[f"check:{label}"] = "passed" if ev.passed else f"FAILED ({ev.severity.value.lower()})"
    out = []
    for step, asset, count in rows:
        seconds = finished.get(step, started.get(step, 0.0)) - started.get(step, 0.0)
        status = outcome.get(f"check:{asset}", outcome.get(step, "ok"))
        out.append(SummaryRow(metric, partition, asset, count, round(seconds, 2), status))
    for step, state in outcome.items():
        if state in ("failed", "skipped") and not any(r[0] == step for r in rows):
            out.append(SummaryRow(metric, partition, step, None, 0.0, state))
    return out


def materialize_metric(
    folder: Path, env: Environment, partition: str, instance: dg.DagsterInstance,
    extra_tags: Mapping[str, str] | None = None,  # beside the version lock (a backfill's staging tag)
) -> tuple[bool, list[SummaryRow]]:
    defs = build_metric_definitions(folder, env)
    metric = folder.name
    job = defs.resolve_job_def(job_name(metric))
    client = CatalogClient.for_environment(env)  # authenticated: the catalog needs a bearer token
    tags = resolve_lock_tags(client, load_metric(folder, env.project_root).spec.catalog_datasets())
    tags.update(extra_tags or {})
    result = job.execute_in_process(partition_key=partition, instance=instance, raise_on_error=False, tags=tags)
    return result.success, summarize(instance, result.run_id, metric, partition)


def run_order(upstreams: Mapping[str, set[str]]) -> list[str]:
    """Metric names, each after the metrics it reads from; otherwise in name order.

    ``upstreams`` maps each metric to run onto the metrics whose outputs it reads. Upstream
    metrics that are not to be run themselves (not keys) do not constrain the order.
    """
    graph = {name: {u for u in ups if u in upstreams} for name, ups in upstreams.items()}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise MetricdagError("metrics read from each other in a cycle: " + " -> ".join(exc.args[1])) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order += ready
        sorter.done(*ready)
    return order


def failed_upstreams(metric: str, upstreams: Mapping[str, set[str]], failed: set[str]) -> list[str]:
    """The metrics ``metric`` reads from whose run failed (then it must not run on their old data)."""
    return sorted(upstreams.get(metric, set()) & failed)

