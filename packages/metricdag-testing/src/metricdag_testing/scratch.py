"""An isolated scratch schema for one node test, dropped afterwards whatever happens.

    with scratch_schema(settings, prefix="SCRATCH", node="net_sales") as scratch:
        scratch.load("fx_rates", frame)          # Parquet file + COPY INTO, as the persister loads
        frame = scratch.read("fx_rates", schema)  # what the node gets

The schema is ``<PREFIX>_<NODE>_<random>`` in the environment's database. ``DROP SCHEMA ...
CASCADE`` runs in ``finally``: after a pass, a failure, Ctrl-C, or SIGTERM (turned into
:class:`SystemExit` while the schema exists, when called from the main thread).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from metricdag.catalog.conform import conform
from metricdag.catalog.models import DatasetSchema
from metricdag.persistence.sql import CopySource, TableRef, copy_into, create_table
from metricdag.settings import SnowflakeSettings
from metricdag.signals import sigterm_as_exit
from metricdag.warehouse import WarehouseError, connect, execute, quote_identifier, validate_identifier

log = logging.getLogger("metricdag.testing")


def scratch_schema_name(prefix: str, node: str) -> str:
    return validate_identifier(f"{prefix}_{node}_{secrets.token_hex(4)}".upper(), "scratch schema")


class ScratchSchema:
    def __init__(self, connection, database: str, schema: str, folder: Path):
        self.connection = connection
        self.database = database
        self.schema = schema
        self.folder = folder

    def table(self, name: str) -> TableRef:
        return TableRef(self.database, self.schema, name)

    def load(self, name: str, frame: pd.DataFrame, schema: pa.Schema | None = None) -> int:
        """Create table ``name`` from ``frame``'s types (or ``schema``, e.g. from the catalog: a column
        of nulls then keeps its type) and COPY the rows in; returns the row count."""
        table = pa.Table.from_pandas(frame[schema.names] if schema is not None else frame, schema=schema,
                                     preserve_index=False)
        file_name = f"{name}.parquet"
        pq.write_table(table, self.folder / file_name)
        target = self.table(name)
        cursor = self.connection.cursor()
        try:
            execute(cursor, create_table(target, table.schema).sql)
            stmt = copy_into(target, CopySource(f"'file://{self.folder}/'", file_name))
            execute(cursor, stmt.sql)
            execute(cursor, f"SELECT COUNT(*) FROM {target.sql}")
            loaded = cursor.fetchone()[0]
        finally:
            cursor.close()
        if loaded != len(frame):
            raise WarehouseError(f"scratch table {target.sql}: loaded {loaded} rows, expected {len(frame)}")
        return loaded

    def read(self, name: str, schema: DatasetSchema) -> pd.DataFrame:
        cursor = self.connection.cursor()
        try:
            execute(cursor, f"SELECT * FROM {self.table(name).sql}")
            frame = cursor.fetch_pandas_all()
        finally:
            cursor.close()
        return conform(frame, schema, name, role="scratch table")


def schema_exists(settings: SnowflakeSettings, database: str, schema: str) -> bool:
    with connect(settings, database=database) as conn:
        cursor = conn.cursor()
        try:
            execute(cursor, f"SELECT COUNT(*) FROM {quote_identifier(database, 'database')}.INFORMATION_SCHEMA.SCHEMATA "
                    "WHERE SCHEMA_NAME = ?", (schema.upper(),))
            return cursor.fetchone()[0] > 0
        finally:
            cursor.close()


@contextlib.contextmanager
def scratch_schema(
    settings: SnowflakeSettings, *, prefix: str, node: str, database: str | None = None
) -> Iterator[ScratchSchema]:
    database = database or settings.database
    name = scratch_schema_name(prefix, node)
    qualified = f"{quote_identifier(database, 'database')}.{quote_identifier(name, 'schema')}"
    folder = Path(tempfile.mkdtemp(prefix="metricdag-scratch-"))
    with sigterm_as_exit(), connect(settings, database=database) as conn:
        cursor = conn.cursor()
        try:
            execute(cursor, f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database, 'database')}")
            execute(cursor, f"CREATE SCHEMA {qualified}")
            log.info("created scratch schema %s", qualified)
            yield ScratchSchema(conn, database, name, folder)
        finally:
            try:
                execute(cursor, f"DROP SCHEMA IF EXISTS {qualified} CASCADE")
                log.info("dropped scratch schema %s", qualified)
            finally:
                cursor.close()
                shutil.rmtree(folder, ignore_errors=True)
