"""Data-quality checks as pure functions: data (and history) in, an outcome out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from metricdag.spec.models import RecordCountCheck


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


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
