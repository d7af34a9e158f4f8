"""What a change of definition did to the published numbers, and whether that is what it declared.

Pure functions over DataFrames: the rows a working tree's definition produced for a partition
are paired by key with the published rows (the node tests' :func:`~metricdag.changes.frame_diff.diff_frames`,
same per-column tolerance); :func:`column_effects` sums each column's change over the whole range;
:func:`evaluate` holds the effects against the metric's ``change:`` declaration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from metricdag.changes.frame_diff import ColumnTolerance, DiffResult, diff_frames
from metricdag.spec.models import ChangeSpec


def visible_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with lower-case column names, without metadata columns (names starting with ``_``)."""
    frame = frame.rename(columns={c: str(c).lower() for c in frame.columns})
    return frame[[c for c in frame.columns if not c.startswith("_")]]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def column_sums(frame: pd.DataFrame, key: Sequence[str]) -> dict[str, float]:
    """The total of every numeric non-key column (nulls count as nothing)."""
    return {c: float(frame[c].sum(skipna=True)) for c in frame.columns if c not in key and _is_numeric(frame[c])}


@dataclass(frozen=True)
class PartitionDiff:
    """One persisted dataset on one partition: published rows vs the working tree's reviewed rows."""

    dataset: str
    partition: str
    result: DiffResult
    published_sums: dict[str, float]
    new_sums: dict[str, float]

    @property
    def label(self) -> str:
        return f"{self.dataset} {self.partition}"


def diff_partition(
    dataset: str,
    partition: str,
    published: pd.DataFrame,
    new: pd.DataFrame,
    key: Sequence[str],
    tolerances: Mapping[str, ColumnTolerance] | None = None,
) -> PartitionDiff:
    published, new = visible_columns(published), visible_columns(new)
    key = [k.lower() for k in key]
    known = {c: t for c, t in (tolerances or {}).items() if c in published.columns}
    result = diff_frames(published, new, key, known, dataset=f"{dataset} {partition}")
    return PartitionDiff(dataset, partition, result, column_sums(published, key), column_sums(new, key))


def relative_change(before: float, after: float) -> float | None:
    """``(after - before) / |before|``; None when ``before`` is zero and ``after`` is not."""
    if before == 0:
        return 0.0 if after == 0 else None
    return (after - before) / abs(before)


@dataclass(frozen=True)
class ColumnEffect:
    """One column of one persisted dataset over the whole range."""

    dataset: str
    column: str
    numeric: bool
    changed_values: int
    partitions_changed: tuple[str, ...]
    published_total: float | None
    new_total: float | None

    @property
    def name(self) -> str:
        return f"{self.dataset}.{self.column}"

    @property
    def changed(self) -> bool:
        """A paired value differs beyond tolerance (rows added or removed are a :class:`RowEffect`)."""
        return self.changed_values > 0

    @property
    def rel(self) -> float | None:
        if not self.numeric or self.published_total is None or self.new_total is None:
            return None
        return relative_change(self.published_total, self.new_total)


@dataclass(frozen=True)
class RowEffect:
    dataset: str
    added: int
    removed: int
    duplicate_keys: int
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]


def column_effects(diffs: Sequence[PartitionDiff]) -> list[ColumnEffect]:
    """Every compared column of every dataset, summed over the partitions, in first-seen order."""
    order: list[tuple[str, str]] = []
    changed: dict[tuple[str, str], int] = {}
    where: dict[tuple[str, str], list[str]] = {}
    numeric: dict[tuple[str, str], bool] = {}
    before: dict[tuple[str, str], float] = {}
    after: dict[tuple[str, str], float] = {}
    for d in diffs:
        for column in d.result.columns:
            k = (d.dataset, column)
            if k not in changed:
                order.append(k)
                changed[k], where[k] = 0, []
            n = d.result.mismatches.get(column, 0)
            if n:
                changed[k] += n
                where[k].append(d.partition)
            is_num = column in d.published_sums or column in d.new_sums
            numeric[k] = numeric.get(k, True) and is_num
            before[k] = before.get(k, 0.0) + d.published_sums.get(column, 0.0)
            after[k] = after.get(k, 0.0) + d.new_sums.get(column, 0.0)
    return [
        ColumnEffect(
            dataset=ds,
            column=col,
            numeric=numeric[(ds, col)],
            changed_values=changed[(ds, col)],
            partitions_changed=tuple(where[(ds, col)]),
            published_total=before[(ds, col)] if numeric[(ds, col)] else None,
            new_total=after[(ds, col)] if numeric[(ds, col)] else None,
        )
        for ds, col in order
    ]


def row_effects(diffs: Sequence[PartitionDiff]) -> list[RowEffect]:
    out: dict[str, RowEffect] = {}
    for d in diffs:
        r = d.result
        prev = out.get(d.dataset, RowEffect(d.dataset, 0, 0, 0, (), ()))
        out[d.dataset] = RowEffect(
            d.dataset,
            prev.added + len(r.only_in_output),
            prev.removed + len(r.only_in_baseline),
            prev.duplicate_keys + len(r.duplicates_in_baseline) + len(r.duplicates_in_output),
            tuple(sorted(set(prev.missing_columns) | set(r.missing_columns))),
            tuple(sorted(set(prev.extra_columns) | set(r.extra_columns))),
        )
    return list(out.values())


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f}%"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    changed: bool
    problems: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    """Declared effects that held, one line each."""
    headline: str = "the change does not match its declaration"

    @property
    def message(self) -> str:
        if not self.ok:
            return f"{self.headline}: " + "\n  ".join(self.problems or ["(no details)"])
        if not self.changed:
            return "no change: the working tree's definition publishes the same rows"
        return "the change matches its declaration:\n  " + "\n  ".join(self.matched)


def _matches(name: str, effect: ColumnEffect) -> bool:
    return name == effect.column or name == effect.name


def _describe_change(e: ColumnEffect) -> str:
    parts = [f"{e.changed_values} value(s) in {len(e.partitions_changed)} partition(s)"] if e.changed_values else []
    if e.numeric:
        parts.append(f"total {e.published_total:.6g} -> {e.new_total:.6g} ({pct(e.rel)})")
    return "; ".join(parts)


def evaluate(
    columns: Sequence[ColumnEffect], rows: Sequence[RowEffect], change: ChangeSpec | None
) -> Verdict:
    """Whether the actual effect is the declared one (no declaration: nothing may change)."""
    problems: list[str] = []
    matched: list[str] = []
    declared = change or ChangeSpec()
    undeclared = "nothing is declared (add a change: section to metric.yaml)" if change is None else (
        "the change: section does not name it (list it under expect:)"
    )
    for name in [*declared.expect, *declared.unchanged]:
        if not any(_matches(name, e) for e in columns):
            known = ", ".join(sorted({e.column for e in columns})) or "none"
            problems.append(f"change: names column {name!r}, which no persisted dataset has (columns: {known})")

    for e in columns:
        expectation = next((x for n, x in declared.expect.items() if _matches(n, e)), None)
        if expectation is not None:
            want, tol = expectation.rel_fraction, expectation.tolerance_fraction
            if not e.numeric:
                problems.append(f"{e.name}: expected {pct(want)} but it is not a numeric column")
                continue
            actual = e.rel
            if actual is None or abs(actual - want) > tol + 1e-12:
                problems.append(
                    f"{e.name}: expected a change of {pct(want)} (tolerance {tol * 100:.2f}%), actual {pct(actual)} "
                    f"(total {e.published_total:.6g} -> {e.new_total:.6g})"
                )
            else:
                matched.append(f"{e.name}: {pct(actual)} as expected ({pct(want)} +/- {tol * 100:.2f}%)")
        elif e.changed:
            why = "the change: section declares it unchanged" if any(_matches(n, e) for n in declared.unchanged) else undeclared
            problems.append(f"{e.name}: changed ({_describe_change(e)}) but {why}; expected no change")
    for r in rows:
        if (r.added or r.removed) and declared.rows != "may_change":
            why = "nothing is declared" if change is None else "change.rows is 'unchanged'"
            problems.append(
                f"{r.dataset}: {r.added} row(s) added, {r.removed} removed (by key) but {why}; "
                "set change: {rows: may_change} if that is intended"
            )
        if r.duplicate_keys:
            problems.append(f"{r.dataset}: {r.duplicate_keys} duplicate key(s): rows cannot be paired")
        if r.missing_columns or r.extra_columns:
            problems.append(
                f"{r.dataset}: columns differ from the published table"
                + (f"; no longer produced: {', '.join(r.missing_columns)}" if r.missing_columns else "")
                + (f"; new: {', '.join(r.extra_columns)}" if r.extra_columns else "")
            )
    changed = any(e.changed for e in columns) or any(
        r.added or r.removed or r.missing_columns or r.extra_columns for r in rows
    )
    return Verdict(ok=not problems, changed=changed, problems=problems, matched=matched)
