"""The metrics repository: every review check evaluation, with what it measured, kept in the
audit store; the accepted history of variance and anomaly checks is read from it.

Pure functions turn a check and its outcome into a row; :func:`repository_history` reads the
accepted history, falling back to the review layer's Parquet files only for days the repository
does not know (accepted before it existed, or a measure no check recorded yet).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import date

from metricdag.audit.models import CheckEvaluation
from metricdag.audit.store import AuditStore
from metricdag.review.checks import AnyCheck, CheckOutcome
from metricdag.review.history import HistoryPoint, PartitionReader, window_days
from metricdag.review.measures import measure as measure_of

# the outcome metadata key holding what a check of each type measured
VALUE_KEYS = {
    "record_count": "rows", "daily_minimum": "value", "variance": "value", "anomaly": "value",
    "range": "failing_rows", "accepted_values": "failing_rows", "unique": "duplicate_rows",
    "schema": "drifts", "sql": "offending_rows", "freshness": "rows",
}


def check_hash(check: AnyCheck) -> str:
    """The check's definition (every field but its severity: what it computes and compares)."""
    fields = check.model_dump(mode="json", exclude={"severity"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]


def measured_value(check: AnyCheck, outcome: CheckOutcome) -> float | None:
    """What the check measured: the measure, the row count, or the number of offending rows."""
    if check.type == "not_null":
        raw: object = sum(int(v) for k, v in outcome.metadata.items() if k.startswith("nulls_"))
    else:
        raw = outcome.metadata.get(VALUE_KEYS.get(check.type, ""))
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or math.isnan(raw) or math.isinf(raw):
        return None
    return float(raw)


def _between(low: object, high: object) -> str:
    parts = [p for p in (None if low is None else f">= {low:g}" if isinstance(low, float) else f">= {low}",
                         None if high is None else f"<= {high:g}" if isinstance(high, float) else f"<= {high}") if p]
    return " and ".join(parts) or "any"


def threshold(check: AnyCheck) -> str:
    """What the measured value is compared with, in a few words."""
    t = check.type
    if t == "record_count":
        return f"rows {_between(check.min, check.max)}"
    if t == "daily_minimum":
        return f"{check.measure} {_between(check.min, check.max)}"
    if t == "variance":
        return f"within {check.max_deviation_pct:g}% of the average of {check.window} accepted day(s)"
    if t == "anomaly":
        return f"|robust z| <= {check.sensitivity:g} over {check.window} accepted day(s)"
    if t == "range":
        return f"0 rows with {check.column} not {_between(check.min, check.max)}"
    if t == "not_null":
        return f"<= {check.max_null_pct:g}% null in {', '.join(check.columns)}"
    if t == "unique":
        return f"0 duplicate ({', '.join(check.columns) or 'key'}) rows"
    if t == "accepted_values":
        return f"0 rows with {check.column} outside {len(check.values)} value(s)"
    if t == "schema":
        return "0 drifts from the catalog schema"
    if t == "freshness":
        return f"rows of {check.source} >= {check.min_rows} by {check.deadline} UTC, {check.days_after} day(s) after"
    return "0 offending rows"


def evaluation(
    *, environment: str, metric: str, dataset: str, name: str, check: AnyCheck, partition: str, run_id: str,
    outcome: CheckOutcome, severity: str, metric_version: str,
) -> CheckEvaluation:
    """The repository row of one evaluation."""
    details = {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v)) for k, v in outcome.metadata.items()}
    details = {k: (None if isinstance(v, float) and (math.isnan(v) or math.isinf(v)) else v) for k, v in details.items()}
    return CheckEvaluation(
        environment=environment, metric=metric, dataset=dataset, check=name, check_type=check.type,
        check_hash=check_hash(check), partition=partition, run_id=run_id,
        measure=getattr(check, "measure", None), value=measured_value(check, outcome), threshold=threshold(check)[:500],
        passed=outcome.passed, severity=severity, metric_version=metric_version, details=details,
        description=outcome.description[:2000],
    )


def repository_history(
    store: AuditStore, environment: str, metric: str, dataset: str, measure: str, day: date, window: int,
    read_accepted: PartitionReader,
) -> tuple[list[HistoryPoint], int]:
    """The measure over every accepted partition among the ``window`` days before ``day`` and how
    many of them the repository answered. A day a run accepted takes the value that run's checks
    measured; a day the repository knows nothing of (or whose accepting run measured no such
    value) is read from the review layer (a file there: accepted)."""
    days = window_days(day, window)
    keys = [d.isoformat() for d in days]
    accepted = store.accepted_runs(environment, metric, dataset, keys)
    values: dict[str, float] = {}
    for e in store.evaluations(environment, metric, dataset=dataset, partitions=list(accepted)):
        if e.measure == measure and e.run_id == accepted.get(e.partition) and e.value is not None:
            values[e.partition] = e.value
    points, known = [], 0
    for d, key in zip(days, keys, strict=True):
        if key in values:
            points.append(HistoryPoint(d, values[key]))
            known += 1
            continue
        frame = read_accepted(d)
        if frame is not None:
            points.append(HistoryPoint(d, measure_of(frame, measure, dataset)))
    return points, known


def latest(evaluations: Sequence[CheckEvaluation]) -> list[CheckEvaluation]:
    """The last evaluation of each (dataset, check, partition), by partition then check."""
    last: dict[tuple[str, str, str], CheckEvaluation] = {}
    for e in evaluations:
        last[(e.dataset, e.check, e.partition)] = e
    return sorted(last.values(), key=lambda e: (e.partition, e.dataset, e.check))
