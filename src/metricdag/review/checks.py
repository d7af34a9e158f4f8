"""Data-quality checks as pure functions: data (and history) in, an outcome out."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd

from metricdag.catalog.models import DatasetSchema
from metricdag.errors import MetricdagError
from metricdag.review.measures import measure
from metricdag.spec.models import (
    AcceptedValuesCheck,
    AnomalyCheck,
    DailyMinimumCheck,
    FreshnessCheck,
    NotNullCheck,
    RangeCheck,
    RecordCountCheck,
    ReviewSpec,
    SchemaCheck,
    SqlCheck,
    UniqueCheck,
    VarianceCheck,
)

AnyCheck = (
    RecordCountCheck | DailyMinimumCheck | VarianceCheck | RangeCheck | NotNullCheck | UniqueCheck
    | AcceptedValuesCheck | SchemaCheck | SqlCheck | AnomalyCheck | FreshnessCheck
)
EXAMPLES = 5  # offending rows or values shown in a failing check's description


class CheckDataError(MetricdagError):
    """A check cannot be computed over the data as declared (a column it names is missing)."""


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


# Each check is a pure function of a few facts about the day's data (rows, a measure, counts of
# offending rows, a few examples), so the same outcome is computed from a DataFrame (the
# ``<check>(data, ...)`` functions) or from aggregate queries in the warehouse
# (:mod:`metricdag.review.warehouse_checks`) without moving the rows.


def record_count(data: pd.DataFrame, check: RecordCountCheck) -> CheckOutcome:
    return record_count_outcome(len(data), check)


def record_count_outcome(rows: int, check: RecordCountCheck) -> CheckOutcome:
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
    """The day's measure is at least ``check.min`` and, when given, at most ``check.max`` (a
    measure with no value, e.g. the min of no rows, fails)."""
    return daily_minimum_outcome(measure(data, check.measure, dataset), check)


def daily_minimum_outcome(value: float, check: DailyMinimumCheck) -> CheckOutcome:
    """:func:`daily_minimum` of the day's measured ``value`` (NaN: no value)."""
    low = not math.isnan(value) and value < check.min
    high = not math.isnan(value) and check.max is not None and value > check.max
    passed = not math.isnan(value) and not low and not high
    bounds = f"the daily minimum {_fmt(check.min)}" + ("" if check.max is None else f" and maximum {_fmt(check.max)}")
    if math.isnan(value):
        verdict = "has no value (no rows), so it is not at least"
    elif low:
        verdict = "below"
    elif high:
        verdict = "above"
    else:
        verdict = "within" if check.max is not None else "at least"
    metadata: dict[str, object] = {"measure": check.measure, "value": None if math.isnan(value) else value, "min": check.min}
    if check.max is not None:
        metadata["max"] = check.max
    return CheckOutcome(passed=passed, description=f"{check.measure} = {_fmt(value)}, {verdict} {bounds}", metadata=metadata)


def _require(data: pd.DataFrame, columns: Sequence[str], check: str, dataset: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        known = ", ".join(map(str, data.columns)) or "none"
        raise CheckDataError(f"{check} check: dataset {dataset!r} has no column(s) {', '.join(missing)} (columns: {known})")


def _examples(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    shown = frame if columns is None else frame[list(columns)]
    rows = shown.head(EXAMPLES).to_dict(orient="records")
    return "; ".join(", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in r.items()) for r in rows)


def _failing(count: int, total: int, what: str, examples: str) -> str:
    return f"{count} of {total} row(s) {what}, e.g. {examples}"


def range_check(data: pd.DataFrame, check: RangeCheck, dataset: str = "data") -> CheckOutcome:
    """Every non-null value of the column within [min, max]; the failing rows are counted and a few shown."""
    _require(data, [check.column], "range", dataset)
    values = pd.to_numeric(data[check.column], errors="coerce")
    bad = pd.Series(False, index=data.index)
    if check.min is not None:
        bad |= values < check.min
    if check.max is not None:
        bad |= values > check.max
    return range_outcome(RangeFacts(
        rows=len(data), failing=int(bad.sum()), examples=_examples(data[bad]),
        observed_min=None if values.dropna().empty else float(values.min()),
        observed_max=None if values.dropna().empty else float(values.max()),
    ), check)


@dataclass(frozen=True)
class RangeFacts:
    rows: int
    failing: int  # rows outside the bounds
    examples: str  # a few of them, as _examples shows them
    observed_min: float | None
    observed_max: float | None


def range_outcome(facts: RangeFacts, check: RangeCheck) -> CheckOutcome:
    count, rows = facts.failing, facts.rows
    bounds = " and ".join(
        part for part in (None if check.min is None else f"at least {_fmt(check.min)}",
                          None if check.max is None else f"at most {_fmt(check.max)}") if part
    )
    if count == 0:
        description = f"all {rows} value(s) of {check.column} are {bounds}"
    else:
        description = _failing(count, rows, f"with {check.column} not {bounds}", facts.examples)
    return CheckOutcome(
        passed=count == 0,
        description=description,
        metadata={"column": check.column, "failing_rows": count, "rows": rows, "min": check.min, "max": check.max,
                  "observed_min": facts.observed_min, "observed_max": facts.observed_max},
    )


def not_null(data: pd.DataFrame, check: NotNullCheck, dataset: str = "data") -> CheckOutcome:
    """Each listed column holds at most ``max_null_pct`` percent nulls (0: none)."""
    _require(data, check.columns, "not_null", dataset)
    return not_null_outcome(len(data), {c: int(data[c].isna().sum()) for c in check.columns}, check)


def not_null_outcome(rows: int, nulls: Mapping[str, int], check: NotNullCheck) -> CheckOutcome:
    """:func:`not_null` from the day's row count and each column's null count."""
    pct = {c: (n / rows * 100 if rows else 0.0) for c, n in nulls.items()}
    over = [c for c in check.columns if pct[c] > check.max_null_pct]
    allowed = "no null" if check.max_null_pct == 0 else f"at most {check.max_null_pct:g}% null"
    if not over:
        description = f"{', '.join(check.columns)}: {allowed} ({sum(nulls.values())} null(s) in {rows} row(s))"
    else:
        description = "; ".join(f"{c}: {nulls[c]} null(s) of {rows} row(s) ({pct[c]:.1f}%)" for c in over) + f", allowed {allowed}"
    return CheckOutcome(
        passed=not over,
        description=description,
        metadata={"rows": rows, "max_null_pct": check.max_null_pct, **{f"nulls_{c}": n for c, n in nulls.items()}},
    )


def unique(data: pd.DataFrame, check: UniqueCheck, key: Sequence[str], dataset: str = "data") -> CheckOutcome:
    """No two rows share a key (``check.columns``, else the output's ``key``)."""
    columns = unique_columns(check, key, dataset)
    _require(data, columns, "unique", dataset)
    duplicated = data.duplicated(subset=columns, keep=False)
    groups = data[duplicated].groupby(columns, dropna=False).size()
    return unique_outcome(UniqueFacts(
        rows=len(data), duplicate_keys=len(groups), duplicate_rows=int(duplicated.sum()),
        examples=_examples(data[duplicated].drop_duplicates(subset=columns), columns),
    ), columns)


@dataclass(frozen=True)
class UniqueFacts:
    rows: int
    duplicate_keys: int  # key values occurring more than once
    duplicate_rows: int  # rows holding one of them
    examples: str


def unique_columns(check: UniqueCheck, key: Sequence[str], dataset: str) -> list[str]:
    columns = list(check.columns or key)
    if not columns:
        raise CheckDataError(f"unique check on {dataset!r}: no columns given and the output declares no key")
    return columns


def unique_outcome(facts: UniqueFacts, columns: Sequence[str]) -> CheckOutcome:
    count = facts.duplicate_rows
    if count == 0:
        description = f"no duplicate ({', '.join(columns)}) in {facts.rows} row(s)"
    else:
        description = (f"{facts.duplicate_keys} key(s) of ({', '.join(columns)}) occur more than once ({count} row(s)), "
                       f"e.g. {facts.examples}")
    return CheckOutcome(
        passed=count == 0,
        description=description,
        metadata={"columns": ", ".join(columns), "duplicate_keys": facts.duplicate_keys, "duplicate_rows": count,
                  "rows": facts.rows},
    )


def _same(value: object, accepted: object) -> bool:
    """A data value equals an accepted one: booleans only to booleans, numbers by value, the rest as text."""
    if hasattr(value, "item"):  # a numpy scalar (what a column holds) -> the Python value
        value = value.item()
    if isinstance(accepted, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(accepted, bool) and value == accepted
    if isinstance(accepted, (int, float)) and not isinstance(value, str):
        try:
            return float(value) == float(accepted)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return str(value) == str(accepted)


def accepted_values(data: pd.DataFrame, check: AcceptedValuesCheck, dataset: str = "data") -> CheckOutcome:
    """Every non-null value of the column is one of ``check.values``."""
    _require(data, [check.column], "accepted_values", dataset)
    counts = data[check.column].dropna().value_counts(sort=False)
    return accepted_values_outcome(len(data), list(counts.items()), check)


def accepted_values_outcome(rows: int, value_counts: Sequence[tuple[object, int]], check: AcceptedValuesCheck) -> CheckOutcome:
    """:func:`accepted_values` from the day's row count and each distinct non-null value's row count."""
    unknown = [(v, n) for v, n in value_counts if not any(_same(v, a) for a in check.values)]
    count = int(sum(n for _, n in unknown))
    if count == 0:
        description = f"all {rows} value(s) of {check.column} are accepted ({len(value_counts)} distinct)"
    else:
        shown = ", ".join(repr(_plain(v)) for v in sorted((v for v, _ in unknown), key=str)[:EXAMPLES])
        description = f"{count} of {rows} row(s) have a {check.column} outside the accepted values: {shown}"
    return CheckOutcome(
        passed=count == 0,
        description=description,
        metadata={"column": check.column, "failing_rows": count, "unexpected_values": len(unknown), "rows": rows},
    )


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def column_type(series: pd.Series) -> str:
    """The catalog type a column's data has (what :func:`metricdag.catalog.conform.conform` produces)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return {"date": "date", "string": "string", "empty": "empty", "boolean": "bool", "integer": "int64",
            "floating": "float64", "decimal": "decimal", "datetime": "timestamp"}.get(inferred, inferred)


COMPATIBLE = {"decimal": {"float64", "decimal"}, "float64": {"float64", "int64"}, "timestamp": {"timestamp"}}


def schema_check(data: pd.DataFrame, schema: DatasetSchema, version: str | None = None) -> CheckOutcome:
    """The columns (names, order) and types equal the catalog schema; each drift is named by column."""
    return schema_outcome([(str(c), column_type(data[c])) for c in data.columns], schema, version)


def schema_outcome(columns: Sequence[tuple[str, str]], schema: DatasetSchema, version: str | None = None) -> CheckOutcome:
    """:func:`schema_check` from the data's (column, catalog type) pairs, in order."""
    expected = [c.name for c in schema.columns]
    actual = [name for name, _ in columns]
    types = dict(columns)
    drifts: list[str] = []
    for name in expected:
        if name not in actual:
            drifts.append(f"{name}: missing (catalog: {schema.column(name).type})")
    for name in actual:
        if name not in expected:
            drifts.append(f"{name}: not in the catalog schema (data: {types[name]})")
    for column in schema.columns:
        if column.name not in actual:
            continue
        found = types[column.name]
        if found != "empty" and found != column.type and found not in COMPATIBLE.get(column.type, set()):
            drifts.append(f"{column.name}: type {found}, catalog says {column.type}")
    if not drifts and [n for n in actual if n in expected] != expected:
        drifts.append(f"column order {', '.join(actual)} differs from the catalog's {', '.join(expected)}")
    where = "the catalog schema" + (f" (version {version})" if version else "")
    return CheckOutcome(
        passed=not drifts,
        description=(f"{len(expected)} column(s) match {where}" if not drifts
                     else f"{len(drifts)} drift(s) from {where}: " + "; ".join(drifts)),
        metadata={"drifts": len(drifts), "columns": len(actual), "catalog_version": version},
    )


def sql_check(data: pd.DataFrame, check: SqlCheck, dataset: str) -> CheckOutcome:
    """``check.query`` over the day's data, registered in DuckDB as a view named ``dataset``:
    the rows it returns are the offending ones; none means the check passes."""
    import duckdb

    connection = duckdb.connect(":memory:")
    try:
        connection.register(dataset, data)
        try:
            offending = connection.execute(check.query).fetchdf()
        except duckdb.Error as exc:
            raise CheckDataError(f"sql check on {dataset!r}: the query failed: {str(exc).splitlines()[0]}") from None
    finally:
        connection.close()
    count = len(offending)
    return CheckOutcome(
        passed=count == 0,
        description=(f"the query returned no offending row (over {len(data)} row(s))" if count == 0
                     else f"the query returned {count} offending row(s), e.g. {_examples(offending)}"),
        metadata={"offending_rows": count, "rows": len(data)},
    )


EMPTY_DTYPES = {"string": "object", "int64": "int64", "float64": "float64", "decimal": "float64", "bool": "bool",
                "date": "datetime64[ns]", "timestamp": "datetime64[ns]"}


def sql_problem(query: str, dataset: str, columns: Mapping[str, str]) -> str | None:
    """Why ``query`` cannot run over ``dataset`` with these catalog columns (column -> type), e.g.
    an unknown column; None when it runs (over no rows: nothing is read)."""
    import duckdb

    empty = pd.DataFrame({name: pd.Series(dtype=EMPTY_DTYPES.get(kind, "object")) for name, kind in columns.items()})
    connection = duckdb.connect(":memory:")
    try:
        connection.register(dataset, empty)
        connection.execute(query).fetchall()
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    finally:
        connection.close()
    return None


MAD_SCALE = 1.4826  # MAD -> standard deviation of a normal distribution
MIN_SPREAD = 0.01  # a history flatter than 1% of its median is treated as spreading 1% of it


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def seasonal_factors(history: Sequence[tuple[date, float]]) -> dict[int, float]:
    """weekday -> the ratio of that weekday's median to the overall median, for every weekday the
    history holds at least twice (other weekdays: no factor, i.e. 1)."""
    overall = _median([v for _, v in history])
    if overall == 0:
        return {}
    by_day: dict[int, list[float]] = {}
    for d, v in history:
        by_day.setdefault(d.weekday(), []).append(v)
    factors = {w: _median(vs) / overall for w, vs in by_day.items() if len(vs) >= 2}
    return {w: f for w, f in factors.items() if f > 0}


def anomaly(value: float, day: date, history: Sequence[tuple[date, float]], check: AnomalyCheck) -> CheckOutcome:
    """A robust z-score of the day's measure against the accepted history: each value is first
    divided by its weekday's seasonal factor (``seasonality: day_of_week``), then compared with
    the median, in units of the scaled MAD. Fires above ``sensitivity``; with fewer than
    ``min_history`` accepted days it passes with a note."""
    usable = [(d, v) for d, v in history if not math.isnan(v)]
    base = {"measure": check.measure, "value": None if math.isnan(value) else value, "history_days": len(usable),
            "window": check.window, "sensitivity": check.sensitivity, "seasonality": check.seasonality}
    if len(usable) < check.min_history:
        return CheckOutcome(
            passed=True,
            description=f"{check.measure} = {_fmt(value)}; only {len(usable)} accepted day(s) of history in the last "
            f"{check.window} (needs {check.min_history}): not compared yet",
            metadata={**base, "expected": None, "z_score": None},
        )
    factors = seasonal_factors(usable) if check.seasonality == "day_of_week" else {}
    adjusted = [v / factors.get(d.weekday(), 1.0) for d, v in usable]
    factor = factors.get(day.weekday(), 1.0)
    center = _median(adjusted)
    spread = max(MAD_SCALE * _median([abs(a - center) for a in adjusted]), MIN_SPREAD * abs(center))
    expected = center * factor
    if math.isnan(value):
        return CheckOutcome(
            passed=False,
            description=f"{check.measure} has no value (no rows); expected about {_fmt(expected)}",
            metadata={**base, "expected": expected, "z_score": None},
        )
    if spread == 0:
        z = 0.0 if value / factor == center else math.inf
    else:
        z = (value / factor - center) / spread
    passed = abs(z) <= check.sensitivity
    weekday = day.strftime("%A")
    season = f" for a {weekday} (weekday factor {factor:.2f})" if check.seasonality == "day_of_week" else ""
    return CheckOutcome(
        passed=passed,
        description=f"{check.measure} = {_fmt(value)}, expected about {_fmt(expected)}{season} from {len(usable)} accepted "
        f"day(s): robust z-score {z:+.1f}, {'within' if passed else 'beyond'} the sensitivity {check.sensitivity:g}",
        metadata={**base, "expected": expected, "z_score": None if math.isinf(z) else round(z, 3), "weekday_factor": factor},
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


DataOnlyCheck = RecordCountCheck | DailyMinimumCheck | RangeCheck | NotNullCheck | UniqueCheck | AcceptedValuesCheck | SqlCheck


def data_outcome(data: pd.DataFrame, check: DataOnlyCheck, dataset: str, key: Sequence[str] = ()) -> CheckOutcome:
    """The outcome of a check that needs only the day's data (and, for ``unique``, the output's key)."""
    if isinstance(check, RecordCountCheck):
        return record_count(data, check)
    if isinstance(check, DailyMinimumCheck):
        return daily_minimum(data, check, dataset)
    if isinstance(check, RangeCheck):
        return range_check(data, check, dataset)
    if isinstance(check, NotNullCheck):
        return not_null(data, check, dataset)
    if isinstance(check, UniqueCheck):
        return unique(data, check, key, dataset)
    if isinstance(check, AcceptedValuesCheck):
        return accepted_values(data, check, dataset)
    if isinstance(check, SqlCheck):
        return sql_check(data, check, dataset)
    raise TypeError(f"{type(check).__name__} needs more than the day's data")


def due_at(day: date, check: FreshnessCheck) -> datetime:
    """When the source's data for ``day`` is due (UTC)."""
    hour, minute = (int(p) for p in check.deadline.split(":"))
    return datetime.combine(day + timedelta(days=check.days_after), time(hour, minute), tzinfo=timezone.utc)


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    return f"{minutes // 1440}d {minutes // 60 % 24}h {minutes % 60}m" if minutes >= 1440 else f"{minutes // 60}h {minutes % 60}m"


def freshness(rows: int, day: date, check: FreshnessCheck, now: datetime) -> CheckOutcome:
    """The source holds at least ``check.min_rows`` rows for ``day``. Fewer fails: after the
    deadline the source is late; before it, not complete yet. Either way nothing is computed on it."""
    due = due_at(day, check)
    late = now >= due
    metadata: dict[str, object] = {"source": check.source, "rows": rows, "min_rows": check.min_rows,
                                   "due_at": due.strftime("%Y-%m-%d %H:%M UTC"), "late": late and rows < check.min_rows}
    when = f"due by {due:%Y-%m-%d %H:%M} UTC"
    if rows >= check.min_rows:
        return CheckOutcome(True, f"source {check.source!r} has {rows} row(s) for {day} (at least {check.min_rows}, {when})", metadata)
    if late:
        verdict = f"is late: {rows} row(s) for {day}, at least {check.min_rows} were {when}, {_span(now - due)} ago"
    else:
        verdict = f"has only {rows} row(s) for {day} so far, at least {check.min_rows} {when} (in {_span(due - now)})"
    return CheckOutcome(False, f"source {check.source!r} {verdict}; nothing is computed on partial data: "
                        "rerun the partition once the source has arrived", metadata)
