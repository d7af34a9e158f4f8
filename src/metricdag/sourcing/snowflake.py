"""Read a logical dataset's daily partition from a Snowflake table."""

from __future__ import annotations

from datetime import date

import pandas as pd

from metricdag.catalog.models import DatasetSchema, SnowflakeCoordinates
from metricdag.warehouse import qualified_name, quote_identifier


def partition_query(
    coords: SnowflakeCoordinates, schema: DatasetSchema, default_database: str, partition_date: date | None
) -> tuple[str, tuple]:
    """SELECT of the catalog's columns; the partition value is a bound parameter."""
    table = qualified_name(coords.database or default_database, coords.schema_name, coords.table)
    columns = ", ".join(quote_identifier(c.name) for c in schema.columns)
    sql = f"SELECT {columns} FROM {table}"
    if schema.partition_column and partition_date is not None:
        return f"{sql} WHERE {quote_identifier(schema.partition_column)} = %s", (partition_date.isoformat(),)
    return sql, ()


def read_snowflake(connection, sql: str, params: tuple) -> pd.DataFrame:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        frame = cursor.fetch_pandas_all()  # Arrow result batches: no per-row Python objects
        if frame.empty and len(frame.columns) == 0:
            frame = pd.DataFrame(columns=[d[0] for d in cursor.description])
        return frame
    finally:
        cursor.close()
