"""Make a DataFrame match a catalog schema, or say exactly why it cannot.

Used on every dataset that crosses a boundary: what sourcing reads, and what a node
returns before it is stored. Column names are matched case-insensitively (Snowflake
returns upper case); the result has the schema's names, order and types.

A node's output is also held to its declared key and to finite numbers (``key=`` and
``finite=True``, see :func:`metricdag.nodes.execute.conform_output`): the key columns hold no
null and no two rows share a key; float columns hold no ``inf``/``-inf``. A duplicated or
exploded result is refused before anything is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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


MAX_EXAMPLES = 3


def _row_key(frame: pd.DataFrame, row: int, key: Sequence[str]) -> str:
    return ", ".join(f"{k}={frame[k].iloc[row]}" for k in key)


def check_key(frame: pd.DataFrame, key: Sequence[str], what: str) -> None:
    """No null in a key column, no key shared by two rows; the error shows example keys."""
    for column in key:
        nulls = frame[column].isna()
        if nulls.any():
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(nulls.to_numpy())[:MAX_EXAMPLES])
            raise SchemaMismatchError(
                f"{what}, key column {column!r}: {int(nulls.sum())} null value(s) (row(s) {rows}); "
                f"the key ({', '.join(key)}) must identify every row"
            )
    duplicated = frame.duplicated(subset=list(key), keep=False)
    if duplicated.any():
        counts = frame[duplicated].groupby(list(key), sort=True, dropna=False).size()
        examples = "; ".join(
            f"{', '.join(f'{k}={v}' for k, v in zip(key, k if isinstance(k, tuple) else (k,)))} ({n} rows)"
            for k, n in counts.head(MAX_EXAMPLES).items()
        )
        raise SchemaMismatchError(
            f"{what}: key ({', '.join(key)}) is not unique: {len(counts)} key(s) occur more than once "
            f"in {int(duplicated.sum())} of {len(frame)} rows, e.g. {examples}"
        )


def check_finite(frame: pd.DataFrame, schema: DatasetSchema, key: Sequence[str], what: str) -> None:
    """No ``inf`` or ``-inf`` in a float column (unless its catalog schema says ``finite: false``);
    the error names the column and an example row."""
    for col in schema.columns:
        if col.type not in ("float64", "decimal") or not col.finite:
            continue
        infinite = np.isinf(frame[col.name].to_numpy(dtype="float64", na_value=np.nan))
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            where = f"key {_row_key(frame, row, key)}" if key else f"row {row + 1}"
            raise SchemaMismatchError(
                f"{what}, column {col.name!r}: {int(infinite.sum())} infinite value(s), "
                f"e.g. {frame[col.name].iloc[row]} at {where}; numbers must be finite"
            )


def _key_columns(key: Sequence[str], schema: DatasetSchema, what: str) -> list[str]:
    by_lower = {c.name.lower(): c.name for c in schema.columns}
    unknown = [k for k in key if k.lower() not in by_lower]
    if unknown:
        raise SchemaMismatchError(f"{what}: key column(s) {', '.join(unknown)} are not in the catalog schema")
    return [by_lower[k.lower()] for k in key]


def conform(
    df: pd.DataFrame, schema: DatasetSchema, dataset: str, *, role: str = "dataset",
    key: Sequence[str] | None = None, finite: bool = False,
) -> pd.DataFrame:
    """``role`` names what ``dataset`` is in messages: ``dataset 'x'`` (default) or e.g. ``output 'x'``.

    ``key``: columns that must be non-null and unique together (none checked when None or
    empty). ``finite``: float columns must not hold ``inf``/``-inf`` (NaN is a null)."""
    what = f"{role} {dataset!r}"
    key_columns = _key_columns(key or [], schema, what)
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
    result = pd.DataFrame(out, index=df.index).reset_index(drop=True)
    if key_columns:
        check_key(result, key_columns, what)
    if finite:
        check_finite(result, schema, key_columns, what)
    return result
