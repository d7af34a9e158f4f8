"""The partitions of a backfill: every day of a closed range, oldest first."""

from __future__ import annotations

from datetime import date, timedelta

from metricdag.errors import MetricdagError


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MetricdagError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


def partition_days(start: date, end: date, first_partition: date, *, metric: str = "the metric") -> list[date]:
    """``start`` .. ``end`` inclusive, oldest first (a variance check of a day reads the days before
    it, so they must be recomputed first). Refuses an empty range or days before the first partition."""
    if end < start:
        raise MetricdagError(f"--to {end} is before --from {start}")
    if start < first_partition:
        raise MetricdagError(f"--from {start} is before the first partition of {metric} ({first_partition})")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
