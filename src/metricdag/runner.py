"""Materialize metrics for one day, in process, and summarise what happened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from metricdag.factory import build_metric_definitions, job_name
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
    folder: Path, env: Environment, partition: str, instance: dg.DagsterInstance
) -> tuple[bool, list[SummaryRow]]:
    defs = build_metric_definitions(folder, env)
    metric = folder.name
    job = defs.resolve_job_def(job_name(metric))
    result = job.execute_in_process(partition_key=partition, instance=instance, raise_on_error=False)
    return result.success, summarize(instance, result.run_id, metric, partition)
