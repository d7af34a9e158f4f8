"""The SQL a SQL node's run adds to the persister's (:mod:`metricdag.persistence.sql`), as pure
functions of validated inputs: the table from a catalog schema, INSERT ... SELECT of the node's
query, and the checks of what it wrote. Partition replace, load locks, counts and DDL are the
persister's own statements, reused as they are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from metricdag.catalog.models import DatasetSchema
from metricdag.persistence.sql import Statement, TableRef
from metricdag.warehouse import quote_identifier


def arrow_schema(schema: DatasetSchema, *, extra_date_column: str | None = None):
    """The Arrow schema of a catalog schema (what :func:`metricdag.persistence.sql.create_table` maps
    to Snowflake types); ``extra_date_column``: one more DATE column (the staged partition)."""
    import pyarrow as pa

    types = {
        "string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "decimal": pa.float64(),
        "bool": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
    }
    fields = [pa.field(c.name, types[c.type]) for c in schema.columns]
    if extra_date_column and extra_date_column.upper() not in {c.name.upper() for c in schema.columns}:
        fields.append(pa.field(extra_date_column, pa.date32()))
    return pa.schema(fields)


def insert_select(target: TableRef, columns: Sequence[str], select_sql: str, params: Sequence[Any]) -> Statement:
    """``INSERT INTO target (cols) SELECT cols FROM (<the node's SELECT>)``: the node's columns are
    picked by name (any order, extra ones ignored), so a missing one is an error naming it."""
    quoted = ", ".join(quote_identifier(c, "column") for c in columns)
    return Statement(
        f"INSERT INTO {target.sql} ({quoted}) SELECT {quoted} FROM (\n{select_sql}\n) AS \"NODE_QUERY\"", tuple(params)
    )


def duplicate_keys(target: TableRef, partition_column: str, value: date, key: Sequence[str]) -> Statement:
    """One row: how many key values occur more than once in the partition, and how many rows have a
    null in a key column."""
    cols = ", ".join(quote_identifier(c, "key column") for c in key)
    nulls = " OR ".join(f"{quote_identifier(c, 'key column')} IS NULL" for c in key)
    where = f"{quote_identifier(partition_column, 'partition column')} = ?"
    return Statement(
        f"SELECT (SELECT COUNT(*) FROM (SELECT {cols} FROM {target.sql} WHERE {where} GROUP BY {cols} "
        f"HAVING COUNT(*) > 1) AS \"DUPLICATES\"), (SELECT COUNT(*) FROM {target.sql} WHERE {where} AND ({nulls}))",
        (value, value),
    )
