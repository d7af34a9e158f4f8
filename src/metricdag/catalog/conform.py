"""Make a DataFrame match a catalog schema, or say exactly why it cannot.

Used on every dataset that crosses a boundary: what sourcing reads, and what a node
returns before it is stored. Column names are matched case-insensitively (Snowflake
returns upper case); the result has the schema's names, order and types.
"""

from __future__ import annotations

import pandas as pd

from metricdag.catalog.models import ColumnType, DatasetSchema
from metricdag.errors import MetricdagError


class SchemaMismatchError(MetricdagError):
    """A dataset does not match its catalog schema; the message names dataset and column."""


def _cast(series: pd.Series, kind: ColumnType) -> pd.Series:
    if kind == "string":
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            return series
        return series.astype("object").map(lambda v: v if v is None or v != v else str(v))
    if kind == "int64":
        numeric = _numbers(series)
        if numeric.isna().any():
            return numeric.astype("Int64")
        if (numeric % 1 != 0).any():
            raise ValueError("has non-integer values")
        return numeric.astype("int64")
    if kind in ("float64", "decimal"):
        return _numbers(series).astype("float64")
    if kind == "bool":
        if series.dtype == bool:
            return series
        mapped = series.map(
            lambda v: v
            if isinstance(v, bool) or pd.isna(v)  # None, or NaN for a missing value in a text column
            else {"true": True, "false": False, "1": True, "0": False}.get(str(v).strip().lower(), "?")
        )
        if (mapped == "?").any():
            raise ValueError("has values that are not true/false")
        return mapped.astype("boolean") if mapped.isna().any() else mapped.astype(bool)
    if kind == "date":
        if pd.api.types.infer_dtype(series, skipna=True) in ("date", "empty"):
            return series  # already dates (what Snowflake, Parquet and the nodes hand over): no conversion
        return _datetimes(series).dt.date
    if kind == "timestamp":
        if pd.api.types.is_datetime64_any_dtype(series):
            return series
        return _datetimes(series)
    raise ValueError(f"unsupported type {kind}")


def _numbers(series: pd.Series) -> pd.Series:
    """Numeric values; the first value that is not a number is named with its row."""
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna() & series.notna()
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise ValueError(f"{series.iloc[row]!r} in row {row + 1} is not a number ({int(bad.sum())} such value(s))")
    return numeric


def _datetimes(series: pd.Series) -> pd.Series:
    try:
        return pd.to_datetime(series, errors="raise")
    except ValueError as first:
        try:  # ISO 8601 text of mixed precision (10:00:00 next to 10:00:00.250000), as a CSV holds it
            return pd.to_datetime(series, errors="raise", format="ISO8601")
        except ValueError:
            raise first from None


def conform(df: pd.DataFrame, schema: DatasetSchema, dataset: str, *, role: str = "dataset") -> pd.DataFrame:
    """``role`` names what ``dataset`` is in messages: ``dataset 'x'`` (default) or e.g. ``output 'x'``."""
    what = f"{role} {dataset!r}"
    by_lower = {str(c).lower(): c for c in df.columns}
    expected = [c.name for c in schema.columns]
    missing = [name for name in expected if name.lower() not in by_lower]
    extra = sorted(str(c) for c in df.columns if str(c).lower() not in {e.lower() for e in expected})
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(extra)}")
        raise SchemaMismatchError(f"{what}: {'; '.join(parts)}")
    out = {}
    for col in schema.columns:
        series = df[by_lower[col.name.lower()]]
        try:
            out[col.name] = _cast(series, col.type)
        except (ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__  # not pandas' multi-line hints
            raise SchemaMismatchError(f"{what}, column {col.name!r}: cannot read as {col.type}: {reason}") from None
        if not col.nullable and out[col.name].isna().any():
            raise SchemaMismatchError(
                f"{what}, column {col.name!r}: {int(out[col.name].isna().sum())} null value(s) in a non-null column"
            )
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)
