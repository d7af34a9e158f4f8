"""Review checks of a warehouse-resident partition (a SQL node's output), as aggregate queries.

Each query returns the few facts a check's pure outcome function needs (:mod:`metricdag.review.checks`:
``*_outcome``): counts, a measure, distinct values with their counts, at most a few example rows.
The day's rows are never fetched, so no DataFrame of the output is built. Column names come from
the check (validated identifiers, quoted); values are bound parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from metricdag.catalog.models import DatasetSchema
from metricdag.review.checks import (
    EXAMPLES,
    AnyCheck,
    CheckDataError,
    CheckOutcome,
    RangeFacts,
    UniqueFacts,
    accepted_values_outcome,
    daily_minimum_outcome,
    not_null_outcome,
    range_outcome,
    record_count_outcome,
    schema_outcome,
    unique_columns,
    unique_outcome,
)
from metricdag.settings import SnowflakeSettings
from metricdag.spec.models import (
    AcceptedValuesCheck,
    DailyMinimumCheck,
    NotNullCheck,
    RangeCheck,
    RecordCountCheck,
    SchemaCheck,
    UniqueCheck,
    parse_measure,
)
from metricdag.warehouse import connect, execute, quote_identifier
from metricdag.warehouse_io.tables import WarehouseTable, relation_sql

AGGREGATES = {"sum": "SUM", "min": "MIN", "max": "MAX", "mean": "AVG"}
IN_WAREHOUSE = (RecordCountCheck, DailyMinimumCheck, RangeCheck, NotNullCheck, UniqueCheck, AcceptedValuesCheck,
                SchemaCheck)


def runs_in_warehouse(check: AnyCheck) -> bool:
    """Whether a check of a warehouse partition is an aggregate query (variance and anomaly measure
    with :func:`measure_sql` too; a ``sql`` check is a DuckDB query over the day's rows)."""
    return isinstance(check, IN_WAREHOUSE)


class Query:
    """One cursor over the partition's relation: ``FROM <day's rows>`` with its bound values."""

    def __init__(self, cursor: Any, table: WarehouseTable) -> None:
        self.cursor, self.table = cursor, table
        self.relation, self.params = relation_sql(table)

    def column(self, name: str) -> str:
        if name.upper() not in {c.upper() for c in self.table.columns}:
            raise CheckDataError(
                f"dataset {self.table.dataset!r} has no column {name!r} (columns: {', '.join(self.table.columns)})"
            )
        return quote_identifier(name, "column")

    def rows(self, select: str, tail: str = "", params: Sequence[Any] = (), select_params: Sequence[Any] = ()) -> list[tuple]:
        """``SELECT <select> FROM <the day's rows> <tail>``; the values bound in statement order:
        ``select_params`` (placeholders in the select list), the relation's, then ``params`` (the tail's)."""
        execute(self.cursor, f"SELECT {select} FROM {self.relation} AS \"DAY\" {tail}".rstrip(),
                (*select_params, *self.params, *params))
        return [tuple(r) for r in self.cursor.fetchall()]

    def one(self, select: str, tail: str = "", params: Sequence[Any] = (), select_params: Sequence[Any] = ()) -> tuple:
        return self.rows(select, tail, params, select_params)[0]


def measure_sql(query: Query, spec: str) -> str:
    """The aggregate of a measure (``row_count``, ``sum:<column>``...): sums of no rows are 0."""
    aggregate, column = parse_measure(spec)
    if aggregate == "row_count":
        return "COUNT(*)"
    expression = f"{AGGREGATES[aggregate]}({query.column(column or '')})"
    return f"COALESCE({expression}, 0)" if aggregate == "sum" else expression


def warehouse_measure(query: Query, spec: str) -> float:
    (value,) = query.one(measure_sql(query, spec))
    return math.nan if value is None else float(value)


def _examples(query: Query, where: str, params: Sequence[Any], columns: Sequence[str] | None = None) -> str:
    shown = columns or query.table.columns
    picked = ", ".join(query.column(c) for c in shown)
    rows = query.rows(picked, f"WHERE {where} LIMIT {EXAMPLES}", params)
    return "; ".join(
        ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in zip(shown, row, strict=True)) for row in rows
    )


def snowflake_catalog_type(data_type: str, scale: int | None) -> str:
    """The catalog type of an INFORMATION_SCHEMA column type."""
    kind = data_type.upper().split("(")[0]
    if kind in ("NUMBER", "DECIMAL", "NUMERIC", "INT", "INTEGER", "BIGINT", "SMALLINT"):
        return "int64" if not scale else "decimal"
    if kind in ("FLOAT", "DOUBLE", "REAL", "FLOAT8", "DOUBLE PRECISION"):
        return "float64"
    if kind in ("TEXT", "VARCHAR", "STRING", "CHAR", "CHARACTER"):
        return "string"
    if kind == "BOOLEAN":
        return "bool"
    if kind == "DATE":
        return "date"
    if kind.startswith("TIMESTAMP") or kind == "DATETIME":
        return "timestamp"
    return kind.lower()


def outcome(query: Query, check: AnyCheck, dataset: str, key: Sequence[str] = (),
            schema: DatasetSchema | None = None, version: str | None = None) -> CheckOutcome:
    """The check's outcome from aggregate queries over the partition."""
    if isinstance(check, RecordCountCheck):
        return record_count_outcome(int(query.one("COUNT(*)")[0]), check)
    if isinstance(check, DailyMinimumCheck):
        return daily_minimum_outcome(warehouse_measure(query, check.measure), check)
    if isinstance(check, RangeCheck):
        col = query.column(check.column)
        bad = " OR ".join(p for p in (None if check.min is None else f"{col} < ?",
                                      None if check.max is None else f"{col} > ?") if p)
        bounds = [b for b in (check.min, check.max) if b is not None]
        rows, failing, low, high = query.one(
            f"COUNT(*), COALESCE(SUM(CASE WHEN {bad} THEN 1 ELSE 0 END), 0), MIN({col}), MAX({col})", select_params=bounds
        )
        examples = _examples(query, bad, bounds) if failing else ""
        return range_outcome(RangeFacts(int(rows), int(failing), examples, None if low is None else float(low),
                                        None if high is None else float(high)), check)
    if isinstance(check, NotNullCheck):
        counts = ", ".join(f"COUNT(*) - COUNT({query.column(c)})" for c in check.columns)
        rows, *nulls = query.one(f"COUNT(*), {counts}")
        return not_null_outcome(int(rows), {c: int(n) for c, n in zip(check.columns, nulls, strict=True)}, check)
    if isinstance(check, UniqueCheck):
        columns = unique_columns(check, key, dataset)
        cols = ", ".join(query.column(c) for c in columns)
        (rows,) = query.one("COUNT(*)")
        keys, dup_rows = _duplicates(query, cols)
        examples = ""
        if dup_rows:
            found = query.rows(cols, f"GROUP BY {cols} HAVING COUNT(*) > 1 LIMIT {EXAMPLES}")
            examples = "; ".join(
                ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in zip(columns, r, strict=True))
                for r in found
            )
        return unique_outcome(UniqueFacts(int(rows), int(keys), int(dup_rows), examples), columns)
    if isinstance(check, AcceptedValuesCheck):
        col = query.column(check.column)
        (rows,) = query.one("COUNT(*)")
        counts = query.rows(f"{col}, COUNT(*)", f"WHERE {col} IS NOT NULL GROUP BY {col}")
        return accepted_values_outcome(int(rows), [(v, int(n)) for v, n in counts], check)
    if isinstance(check, SchemaCheck):
        if schema is None:
            raise CheckDataError(f"schema check of {dataset!r} needs the catalog schema")
        return schema_outcome(table_columns(query), schema, version)
    raise TypeError(f"a {check.type} check does not run as an aggregate query")


def _duplicates(query: Query, cols: str) -> tuple:
    execute(query.cursor,
            f"SELECT COUNT(*), COALESCE(SUM(\"N\"), 0) FROM (SELECT COUNT(*) AS \"N\" FROM {query.relation} AS \"DAY\" "
            f"GROUP BY {cols} HAVING COUNT(*) > 1) AS \"DUPLICATES\"", query.params)
    return tuple(query.cursor.fetchone())


def table_columns(query: Query) -> list[tuple[str, str]]:
    """The table's columns with their catalog types (metadata columns of the platform left out)."""
    t = query.table
    execute(query.cursor,
            f"SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_SCALE FROM {quote_identifier(t.database, 'database')}."
            "INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (t.schema_name.upper(), t.table.upper()))
    by_upper = {c.upper(): c for c in t.columns}
    hidden = {"_METRIC_VERSION", "_RUN_ID", "_LOADED_AT", t.partition_column if t.partition_column not in by_upper else ""}
    return [(by_upper.get(str(name).upper(), str(name).lower()), snowflake_catalog_type(str(kind), scale))
            for name, kind, scale in query.cursor.fetchall() if str(name).upper() not in hidden]


def warehouse_outcome(settings: SnowflakeSettings, table: WarehouseTable, check: AnyCheck, dataset: str,
                      key: Sequence[str] = (), schema: DatasetSchema | None = None,
                      version: str | None = None) -> CheckOutcome:
    """Connect and compute the outcome of ``check`` over ``table``'s partition."""
    with connect(settings, database=table.database) as conn:
        cursor = conn.cursor()
        try:
            return outcome(Query(cursor, table), check, dataset, key, schema, version)
        finally:
            cursor.close()


def measure_in_warehouse(settings: SnowflakeSettings, table: WarehouseTable, spec: str) -> float:
    with connect(settings, database=table.database) as conn:
        cursor = conn.cursor()
        try:
            return warehouse_measure(Query(cursor, table), spec)
        finally:
            cursor.close()
