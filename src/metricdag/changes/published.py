"""Read what is published: one partition of a persisted table, as the catalog types it (read only)."""

from __future__ import annotations

import pandas as pd

from metricdag.catalog.conform import SchemaMismatchError, conform
from metricdag.catalog.models import DatasetSchema
from metricdag.changes.compare import visible_columns
from metricdag.settings import SnowflakeSettings
from metricdag.spec.models import PersistSpec
from metricdag.warehouse import connect, execute, qualified_name, quote_identifier


def table_exists(cursor, database: str, schema: str, table: str) -> bool:
    execute(
        cursor,
        f"SELECT COUNT(*) FROM {quote_identifier(database, 'database')}.INFORMATION_SCHEMA.TABLES "
        "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        (schema.upper(), table.upper()),
    )
    return cursor.fetchone()[0] > 0


def published_partition(
    settings: SnowflakeSettings, persist: PersistSpec, partition: str, schema: DatasetSchema | None = None
) -> pd.DataFrame | None:
    """The published rows of ``persist.table`` for ``partition`` (None when the table does not exist).

    Column names are lower case and metadata columns (``_METRIC_VERSION``, ``_RUN_ID``, ...: names
    starting with ``_``) are left out; with the catalog ``schema`` the columns are typed by it.
    """
    database = settings.database
    with connect(settings) as conn:
        cursor = conn.cursor()
        try:
            if not table_exists(cursor, database, persist.schema_name, persist.table_name):
                return None
            table = qualified_name(database, persist.schema_name, persist.table_name)
            column = quote_identifier(persist.partition_column, "partition column")
            execute(cursor, f"SELECT * FROM {table} WHERE {column} = ?", (partition,))
            frame = cursor.fetch_pandas_all()
        finally:
            cursor.close()
    frame = visible_columns(frame)
    if schema is not None:
        try:
            return conform(frame, schema, persist.dataset, role="published table")
        except SchemaMismatchError:
            return frame  # the definition changed the columns: compared as they are, reported as such
    return frame
