"""Data-quality checks as pure functions: data (and history) in, an outcome out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from metricdag.review.measures import measure
from metricdag.spec.models import DailyMinimumCheck, RecordCountCheck, ReviewSpec, VarianceCheck

AnyCheck = RecordCountCheck | DailyMinimumCheck | VarianceCheck


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def check_names(review: ReviewSpec) -> list[tuple[str, AnyCheck]]:
    """Each check with its name (the Dagster check's name): its type, or ``<type>_<position>``
    when the type repeats within the dataset's review."""
    types = [c.type for c in review.checks]
    return [(c.type if types.count(c.type) == 1 else f"{c.type}_{i + 1}", c) for i, c in enumerate(review.checks)]


def record_count(data: pd.DataFrame, check: RecordCountCheck) -> CheckOutcome:
    rows = len(data)
    upper = "no maximum" if check.max is None else f"at most {check.max}"
    passed = rows >= check.min and (check.max is None or rows <= check.max)
    verdict = "within" if passed else "outside"
    return CheckOutcome(
        passed=passed,
        description=f"{rows} rows, {verdict} the bounds (at least {check.min}, {upper})",
        metadata={"rows": rows, "min": check.min, "max": check.max if check.max is not None else "none"},
    )


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.2f}"


def daily_minimum(data: pd.DataFrame, check: DailyMinimumCheck, dataset: str = "data") -> CheckOutcome:
    """The day's measure is at least ``check.min`` (a measure with no value, e.g. the min of no rows, fails)."""
    value = measure(data, check.measure, dataset)
    passed = not math.isnan(value) and value >= check.min
    verdict = "at least" if passed else "below"
    if math.isnan(value):
        verdict = "has no value (no rows), so it is not at least"
    return CheckOutcome(
        passed=passed,
        description=f"{check.measure} = {_fmt(value)}, {verdict} the daily minimum {_fmt(check.min)}",
        metadata={"measure": check.measure, "value": None if math.isnan(value) else value, "min": check.min},
    )


def deviation_pct(value: float, average: float) -> float:
    """How far ``value`` is from ``average``, in percent of the average (inf if the average is 0 and value is not)."""
    if average == 0:
        return 0.0 if value == 0 else math.inf
    return (value - average) / abs(average) * 100


def variance(value: float, history: Sequence[float], check: VarianceCheck) -> CheckOutcome:
    """``value`` deviates at most ``max_deviation_pct`` % from the average of ``history`` (the same
    measure over the previous accepted partitions). Too little history passes with a note."""
    usable = [h for h in history if not math.isnan(h)]
    base = {"measure": check.measure, "value": None if math.isnan(value) else value, "history_days": len(usable),
            "window": check.window, "max_deviation_pct": check.max_deviation_pct}
    if len(usable) < check.min_history:
        return CheckOutcome(
            passed=True,
            description=f"{check.measure} = {_fmt(value)}; only {len(usable)} accepted day(s) of history in the last "
            f"{check.window} (needs {check.min_history}): not compared yet",
            metadata={**base, "average": None, "deviation_pct": None},
        )
    average = sum(usable) / len(usable)
    if math.isnan(value):
        return CheckOutcome(
            passed=False,
            description=f"{check.measure} has no value (no rows) against an average of {_fmt(average)} over "
            f"{len(usable)} accepted day(s)",
            metadata={**base, "average": average, "deviation_pct": None},
        )
    deviation = deviation_pct(value, average)
    passed = abs(deviation) <= check.max_deviation_pct
    direction = "above" if deviation >= 0 else "below"
    verdict = "within" if passed else "outside"
    return CheckOutcome(
        passed=passed,
        description=f"{check.measure} = {_fmt(value)}, {abs(deviation):.1f}% {direction} the average {_fmt(average)} "
        f"of {len(usable)} accepted day(s): {verdict} the allowed {check.max_deviation_pct:g}%",
        metadata={**base, "average": average, "deviation_pct": None if math.isinf(deviation) else round(deviation, 3)},
    )
