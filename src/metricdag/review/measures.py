"""One number per partition, as a check's ``measure`` says: ``row_count`` or ``<agg>:<column>``."""

from __future__ import annotations

import math

import pandas as pd

from metricdag.errors import MetricdagError
from metricdag.spec.models import parse_measure


class MeasureError(MetricdagError):
    """The data cannot be measured as asked (unknown or non-numeric column)."""


def measure(frame: pd.DataFrame, spec: str, dataset: str = "data") -> float:
    """The value of measure ``spec`` over ``frame``; an empty frame sums to 0 and has no min/max/mean (NaN)."""
    aggregate, column = parse_measure(spec)
    if aggregate == "row_count":
        return float(len(frame))
    assert column is not None
    if column not in frame.columns:
        known = ", ".join(map(str, frame.columns)) or "none"
        raise MeasureError(f"measure {spec!r}: dataset {dataset!r} has no column {column!r} (columns: {known})")
    values = frame[column]
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        raise MeasureError(f"measure {spec!r}: column {column!r} of dataset {dataset!r} is {values.dtype}, not numeric")
    values = values.dropna()
    if aggregate == "sum":
        return float(values.sum())
    if values.empty:
        return math.nan
    return float({"min": values.min, "max": values.max, "mean": values.mean}[aggregate]())
