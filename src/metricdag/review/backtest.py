"""Report-only mode: how often would a check have fired over past partitions?

Each check is computed over the stored partitions of the checked asset; a variance check
compares each day with the accepted history as it stood before that day (the review layer's
partitions in the window before it). Nothing is written and nothing is blocked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from metricdag.review.checks import AnyCheck, CheckOutcome, anomaly, data_outcome, variance
from metricdag.review.history import PartitionReader, accepted_history
from metricdag.review.measures import measure
from metricdag.spec.models import AnomalyCheck, DailyMinimumCheck, FreshnessCheck, SchemaCheck, VarianceCheck


@dataclass(frozen=True)
class BacktestRow:
    partition: date
    check: str
    value: float | None  # None: no data for the partition
    would_fire: bool | None  # None: no data, nothing to judge
    detail: str


def evaluate(
    data: pd.DataFrame, check: AnyCheck, day: date, read_accepted: PartitionReader, dataset: str, key: Sequence[str] = ()
) -> tuple[float, CheckOutcome]:
    """One check on one day's data: the measured value (the row count for checks without a
    measure) and the outcome. A schema check needs the run's catalog lock: not backtested."""
    if isinstance(check, (VarianceCheck, AnomalyCheck)):
        history = accepted_history(read_accepted, day, check.window, check.measure, dataset)
        value = measure(data, check.measure, dataset)
        if isinstance(check, AnomalyCheck):
            return value, anomaly(value, day, [(p.day, p.value) for p in history], check)
        return value, variance(value, [p.value for p in history], check)
    if isinstance(check, SchemaCheck):
        return float(len(data)), CheckOutcome(True, "schema checks compare with the run's locked catalog version: not backtested")
    if isinstance(check, FreshnessCheck):
        return float(len(data)), CheckOutcome(True, "freshness checks compare a source's arrival with the run's time: "
                                              "not backtested")
    outcome = data_outcome(data, check, dataset, key)
    value = measure(data, check.measure, dataset) if isinstance(check, DailyMinimumCheck) else float(len(data))
    return value, outcome


def backtest(
    checks: Sequence[tuple[str, AnyCheck]],
    days: Sequence[date],
    read_checked: PartitionReader,
    read_accepted: PartitionReader,
    dataset: str,
    key: Sequence[str] = (),
) -> list[BacktestRow]:
    """Every named check on every day (oldest first); a day without data gets one row per check saying so."""
    rows: list[BacktestRow] = []
    for day in sorted(days):
        data = read_checked(day)
        for name, check in checks:
            if data is None:
                rows.append(BacktestRow(day, name, None, None, "no data for this partition"))
                continue
            value, outcome = evaluate(data, check, day, read_accepted, dataset, key)
            rows.append(BacktestRow(day, name, None if math.isnan(value) else value, not outcome.passed, outcome.description))
    return rows


def fire_counts(rows: Sequence[BacktestRow]) -> dict[str, tuple[int, int]]:
    """check name -> (partitions it would have fired on, partitions with data)."""
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        fired, judged = counts.get(row.check, (0, 0))
        if row.would_fire is not None:
            counts[row.check] = (fired + int(row.would_fire), judged + 1)
        else:
            counts.setdefault(row.check, (fired, judged))
    return counts


def record_backtests(store, environment: str, metric: str, dataset: str, checks: Sequence[tuple[str, AnyCheck]],
                     rows: Sequence[BacktestRow]) -> None:
    """One repository record per check: its definition and on how many partitions it fired."""
    from metricdag.audit.models import BacktestRecord
    from metricdag.review.repository import check_hash

    counts = fire_counts(rows)
    for name, check in checks:
        judged = sorted(r.partition for r in rows if r.check == name and r.would_fire is not None)
        fired, total = counts.get(name, (0, 0))
        store.record_backtest(BacktestRecord(
            environment=environment, metric=metric, dataset=dataset, check=name, check_hash=check_hash(check),
            first_partition=judged[0].isoformat() if judged else None,
            last_partition=judged[-1].isoformat() if judged else None, partitions=total, fired=fired,
        ))
