"""Profiles of a dataset's accepted partitions (pure): per column null rates, ranges and distinct
values, and the distribution of rows per day. What :mod:`metricdag.review.suggest` turns into checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from metricdag.review.checks import column_type

DISTINCT_KEPT = 50  # distinct values remembered per text column (beyond that: only the count)


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    type: str  # the catalog type of the data (string, int64, float64, date, ...)
    nulls: int
    rows: int
    max_null_pct: float  # the worst day's share of nulls, in percent
    minimum: float | None = None  # numeric columns only
    maximum: float | None = None
    distinct: int = 0
    values: tuple = field(default=())  # every distinct value when there are at most DISTINCT_KEPT

    @property
    def numeric(self) -> bool:
        return self.type in ("int64", "float64", "decimal")


@dataclass(frozen=True)
class DatasetProfile:
    dataset: str
    days: tuple[date, ...]
    rows_per_day: tuple[int, ...]
    columns: tuple[ColumnProfile, ...]
    duplicate_keys: int | None  # None: no key to check

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]


def profile(dataset: str, frames: Mapping[date, pd.DataFrame], key: list[str] | None = None) -> DatasetProfile:
    """The profile of ``frames`` (day -> that day's accepted data; at least one)."""
    if not frames:
        raise ValueError(f"no partitions of {dataset!r} to profile")
    days = tuple(sorted(frames))
    data = pd.concat([frames[d] for d in days], ignore_index=True)
    columns = []
    for name in data.columns:
        series = data[name]
        kind = column_type(series)
        per_day = [frames[d][name].isna().mean() * 100 for d in days if name in frames[d] and len(frames[d])]
        distinct_values = series.dropna().unique()
        numeric = kind in ("int64", "float64", "decimal") and not series.dropna().empty
        columns.append(ColumnProfile(
            name=str(name),
            type=kind,
            nulls=int(series.isna().sum()),
            rows=len(series),
            max_null_pct=max(per_day, default=0.0),
            minimum=float(series.min()) if numeric else None,
            maximum=float(series.max()) if numeric else None,
            distinct=len(distinct_values),
            values=tuple(sorted(distinct_values, key=str)) if len(distinct_values) <= DISTINCT_KEPT else (),
        ))
    duplicates = None
    if key and all(k in data.columns for k in key):
        duplicates = sum(int(frames[d].duplicated(subset=key).sum()) for d in days)
    return DatasetProfile(dataset, days, tuple(len(frames[d]) for d in days), tuple(columns), duplicates)
