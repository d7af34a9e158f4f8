"""Materialize metrics for one day, in process, and summarise what happened."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import dagster as dg

from metricdag.audit.sensors import evaluate_for_run
from metricdag.catalog.client import CatalogClient
from metricdag.errors import MetricdagError
from metricdag.failures import root_cause, step_failures
from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.lock_tags import resolve_lock_tags
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
    records = list(instance.all_logs(run_id))
    causes = step_failures(records)
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        step = event.step_key or ""
        kind = event.event_type_value
        if kind == "STEP_START":
            started.setdefault(step, record.timestamp)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            finished[step] = record.timestamp
            outcome[step] = {"STEP_SUCCESS": "ok", "STEP_FAILURE": f"failed: {causes.get(step, '')}",
                             "STEP_SKIPPED": "skipped"}[kind]
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
        if state.startswith(("failed", "skipped")) and not any(r[0] == step for r in rows):
            seconds = finished.get(step, 0.0) - started.get(step, finished.get(step, 0.0))
            out.append(SummaryRow(metric, partition, step, None, round(seconds, 2), state))
    return out


# Run config that keeps Dagster's console logger quiet: the event log (UI, summary) keeps everything.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def progress_line(kind: str, step: str, seconds: float | None, cause: str = "") -> str:
    """One line per finished step, as ``metricdag run`` prints it while the run goes on."""
    state = {"STEP_SUCCESS": "ok", "STEP_FAILURE": "failed", "STEP_SKIPPED": "skipped"}[kind]
    took = f" ({seconds:.1f}s)" if seconds is not None else ""
    return f"  {state:7} {step}{took}" + (f": {cause}" if cause else "")


def progress_printer(write: Callable[[str], None] | None = None) -> Callable[[dg.EventLogEntry], None]:
    """An event listener printing :func:`progress_line` for every finished step."""
    write = write or (lambda line: print(line, file=sys.stdout, flush=True))
    started: dict[str, float] = {}

    def on_event(entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None or not event.step_key:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            started.setdefault(event.step_key, entry.timestamp)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            begun = started.get(event.step_key)
            cause = root_cause(getattr(event.event_specific_data, "error", None)) if kind == "STEP_FAILURE" else ""
            write(progress_line(kind, event.step_key, None if begun is None else entry.timestamp - begun, cause))

    return on_event


def materialize_metric(
    folder: Path, env: Environment, partition: str, instance: dg.DagsterInstance, *,
    extra_tags: Mapping[str, str] | None = None,  # beside the version lock (a backfill's staging tag)
    verbose: bool = True, on_event: Callable[[dg.EventLogEntry], None] | None = None,
) -> tuple[bool, list[SummaryRow]]:
    """Run every layer of one metric for ``partition`` in process. ``verbose=False`` silences
    Dagster's console log; ``on_event`` sees every event of the run as it is stored."""
    defs = build_metric_definitions(folder, env)
    metric = folder.name
    job = defs.resolve_job_def(job_name(metric))
    client = CatalogClient.for_environment(env)  # authenticated: the catalog needs a bearer token
    tags = resolve_lock_tags(client, load_metric(folder, env.project_root).spec.catalog_datasets())
    tags.update(extra_tags or {})
    run_id = str(uuid.uuid4())
    if on_event is not None:
        instance.add_event_listener(run_id, on_event)
    result = job.execute_in_process(
        partition_key=partition, instance=instance, raise_on_error=False, tags=tags, run_id=run_id,
        run_config=None if verbose else QUIET_CONSOLE,
    )
    try:  # audit records, alerts and resolves, as the daemon's sensors do for a launched run
        evaluate_for_run(defs, metric, instance, result.run_id)
    except Exception as exc:  # the run's outcome stands; say what could not be recorded
        print(f"warning: the run-status sensors of {metric} failed on run {result.run_id}: {exc}", file=sys.stderr)
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

