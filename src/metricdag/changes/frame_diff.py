"""Compare a node's output with its baseline by key: pure, vectorised pandas/numpy.

Rows are paired by key. Keys that occur more than once on either side are reported as
duplicates and left out of the pairing (never silently matched to one another). Numeric
columns are equal when ``|output - baseline| <= abs + rel * |baseline|`` (per-column
tolerance, default exact); other columns must be equal; two nulls are equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metricdag.errors import MetricdagError

class DiffError(MetricdagError):
    """The two sides cannot be compared (e.g. a key column is missing)."""


@dataclass(frozen=True)
class ColumnTolerance:
    abs: float = 0.0
    rel: float = 0.0


@dataclass(frozen=True)
class DiffResult:
    dataset: str
    key: list[str]
    columns: list[str]
    baseline_rows: int
    output_rows: int
    matched_rows: int
    """Rows paired by key whose every compared column is equal."""
    only_in_baseline: pd.DataFrame
    only_in_output: pd.DataFrame
    changed: pd.DataFrame
    """One row per changed value: the key columns, ``column``, ``baseline``, ``output``."""
    mismatches: dict[str, int]
    """Column -> number of paired rows whose value differs (every compared column is listed)."""
    duplicates_in_baseline: pd.DataFrame
    duplicates_in_output: pd.DataFrame
    """Key columns and ``count`` for every key occurring more than once."""
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)

    @property
    def changed_rows(self) -> int:
        return 0 if self.changed.empty else len(self.changed.drop_duplicates(self.key))

    @property
    def passed(self) -> bool:
        return (
            self.only_in_baseline.empty
            and self.only_in_output.empty
            and self.changed.empty
            and self.duplicates_in_baseline.empty
            and self.duplicates_in_output.empty
            and not self.missing_columns
            and not self.extra_columns
        )

    @property
    def match_score(self) -> float:
        """Equal rows over all rows compared (paired, unpaired and duplicated): 1.0 is a perfect match."""
        dup_rows = int(self.duplicates_in_baseline["count"].sum()) + int(self.duplicates_in_output["count"].sum())
        total = self.matched_rows + self.changed_rows + len(self.only_in_baseline) + len(self.only_in_output) + dup_rows
        if self.missing_columns or self.extra_columns:
            return 0.0
        return 1.0 if total == 0 else self.matched_rows / total


def key_codes(baseline: pd.DataFrame, output: pd.DataFrame, key: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row and side such that equal keys (nulls included) get equal codes."""
    n = len(baseline)
    combined = np.zeros(n + len(output), dtype="int64")
    for col in key:
        values = pd.concat([baseline[col], output[col]], ignore_index=True)
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        combined = combined * (len(uniques) + 1) + codes
        if len(key) > 1:
            combined = pd.factorize(combined)[0].astype("int64")  # stay compact: no overflow
    return combined[:n], combined[n:]


def _duplicate_report(frame: pd.DataFrame, key: list[str], mask: np.ndarray) -> pd.DataFrame:
    if not mask.any():
        return pd.DataFrame(columns=[*key, "count"])
    counts = frame.loc[mask, key].value_counts(dropna=False).rename("count").reset_index()
    return counts.sort_values(key).reset_index(drop=True)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def equal_values(baseline: pd.Series, output: pd.Series, tolerance: ColumnTolerance | None = None) -> np.ndarray:
    """Element-wise equality with tolerance for numbers; nulls equal nulls."""
    if _is_numeric(baseline) and _is_numeric(output):
        b = baseline.to_numpy(dtype="float64", na_value=np.nan)
        o = output.to_numpy(dtype="float64", na_value=np.nan)
        both_null = np.isnan(b) & np.isnan(o)
        if tolerance is None or (tolerance.abs == 0 and tolerance.rel == 0):
            return (b == o) | both_null
        with np.errstate(invalid="ignore"):
            return (np.abs(o - b) <= tolerance.abs + tolerance.rel * np.abs(b)) | both_null
    both_null = (baseline.isna() & output.isna()).to_numpy()
    same = baseline.eq(output).fillna(False).to_numpy(dtype=bool)
    return same | both_null


def diff_frames(
    baseline: pd.DataFrame,
    output: pd.DataFrame,
    key: Sequence[str],
    tolerances: Mapping[str, ColumnTolerance] | None = None,
    dataset: str = "output",
) -> DiffResult:
    key = list(key)
    if not key:
        raise DiffError(f"{dataset}: no key columns to pair rows by (set the schema key or 'key:' in test_config.yaml)")
    for side, frame in (("baseline", baseline), ("output", output)):
        missing = [k for k in key if k not in frame.columns]
        if missing:
            raise DiffError(f"{dataset}: key column(s) {', '.join(missing)} missing from the {side}")
    tolerances = dict(tolerances or {})
    unknown = sorted(set(tolerances) - set(baseline.columns))
    if unknown:
        raise DiffError(f"{dataset}: tolerance given for unknown column(s) {', '.join(unknown)}")
    columns = [c for c in baseline.columns if c in output.columns and c not in key]
    missing_columns = [c for c in baseline.columns if c not in output.columns]
    extra_columns = [c for c in output.columns if c not in baseline.columns]

    codes_b, codes_o = key_codes(baseline, output, key)
    size = int(max(codes_b.max(initial=-1), codes_o.max(initial=-1))) + 1
    count_b = np.bincount(codes_b, minlength=size)
    count_o = np.bincount(codes_o, minlength=size)
    mask_b, mask_o = count_b[codes_b] > 1, count_o[codes_o] > 1
    dup_b = _duplicate_report(baseline, key, mask_b)
    dup_o = _duplicate_report(output, key, mask_o)
    # A key duplicated on either side is paired on neither.
    pairable = (count_b <= 1) & (count_o <= 1)
    row_in_output = np.full(size, -1, dtype="int64")
    keep_o = pairable[codes_o]
    row_in_output[codes_o[keep_o]] = np.flatnonzero(keep_o)
    keep_b = pairable[codes_b]
    match = np.where(keep_b, row_in_output[codes_b], -1)
    bi = np.flatnonzero(match >= 0)
    oi = match[bi]
    only_b_rows = np.flatnonzero(keep_b & (match < 0))
    present_in_b = np.zeros(size, dtype=bool)
    present_in_b[codes_b[keep_b]] = True
    only_o_rows = np.flatnonzero(keep_o & ~present_in_b[codes_o])

    all_equal = np.ones(len(bi), dtype=bool)
    mismatches: dict[str, int] = {}
    changed_parts = []
    for col in columns:
        b_vals = baseline[col].take(bi).reset_index(drop=True)
        o_vals = output[col].take(oi).reset_index(drop=True)
        eq = equal_values(b_vals, o_vals, tolerances.get(col))
        all_equal &= eq
        n = int((~eq).sum())
        mismatches[col] = n
        if n:
            rows = np.flatnonzero(~eq)
            part = baseline[key].take(bi[rows]).reset_index(drop=True)
            part["column"] = col
            part["baseline"] = b_vals.take(rows).astype(object).to_numpy()
            part["output"] = o_vals.take(rows).astype(object).to_numpy()
            changed_parts.append(part)
    changed = (
        pd.concat(changed_parts, ignore_index=True).sort_values(key, kind="stable").reset_index(drop=True)
        if changed_parts
        else pd.DataFrame(columns=[*key, "column", "baseline", "output"])
    )
    only_b = baseline[key + columns].take(only_b_rows)
    only_o = output[key + columns].take(only_o_rows)
    return DiffResult(
        dataset=dataset,
        key=key,
        columns=columns,
        baseline_rows=len(baseline),
        output_rows=len(output),
        matched_rows=int(all_equal.sum()),
        only_in_baseline=only_b.sort_values(key).reset_index(drop=True),
        only_in_output=only_o.sort_values(key).reset_index(drop=True),
        changed=changed,
        mismatches=mismatches,
        duplicates_in_baseline=dup_b,
        duplicates_in_output=dup_o,
        missing_columns=missing_columns,
        extra_columns=extra_columns,
    )
