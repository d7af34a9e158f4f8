"""The persister's SQL, as pure functions of validated inputs.

Every identifier goes through :func:`metricdag.warehouse.quote_identifier`; the partition value
is a bound parameter (``?``); the only other text pasted into SQL is the source location and
file name of a ``COPY``, each checked against a strict character set first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from metricdag.errors import MetricdagError
from metricdag.warehouse import qualified_name, quote_identifier, snowflake_columns

if TYPE_CHECKING:
    import pyarrow as pa

_FILE_NAME = re.compile(r"[A-Za-z0-9._=-]+")
_PATH = re.compile(r"[A-Za-z0-9._=+~/-]*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

COPY_OPTIONS = "FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE"

# Every persisted table carries, per row, which metric version and which run loaded it and when
# (set by the load transaction right after COPY). Not in the Parquet file, so not in fingerprints.
METRIC_VERSION_COLUMN, RUN_ID_COLUMN, LOADED_AT_COLUMN = "_METRIC_VERSION", "_RUN_ID", "_LOADED_AT"
METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    (METRIC_VERSION_COLUMN, "VARCHAR"),
    (RUN_ID_COLUMN, "VARCHAR"),
    (LOADED_AT_COLUMN, "TIMESTAMP_NTZ"),
)
HISTORY_SUFFIX = "__HISTORY"  # <TABLE>__HISTORY: every partition as each load left it (append-only)


@dataclass(frozen=True)
class Statement:
    """SQL text plus the values bound to its ``?`` placeholders."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TableRef:
    database: str
    schema: str
    table: str

    def __post_init__(self) -> None:
        qualified_name(self.database, self.schema, self.table)  # validates all three

    @property
    def sql(self) -> str:
        return qualified_name(self.database, self.schema, self.table)


@dataclass(frozen=True)
class CopySource:
    """Where COPY reads from: a folder (a quoted URL or ``@stage/path/``) and one file in it."""

    location: str
    file_name: str


# ------------------------------------------------------------------------------------- DDL


def create_database(target: TableRef) -> Statement:
    return Statement(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(target.database, 'database')}")


def create_schema(target: TableRef) -> Statement:
    db = quote_identifier(target.database, "database")
    return Statement(f"CREATE SCHEMA IF NOT EXISTS {db}.{quote_identifier(target.schema, 'schema')}")


def table_exists(target: TableRef) -> Statement:
    """One row, one column: how many tables named ``target`` exist (0 or 1)."""
    db = quote_identifier(target.database, "database")
    return Statement(
        f"SELECT COUNT(*) FROM {db}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        (target.schema.upper(), target.table.upper()),
    )


def existing_columns(target: TableRef) -> Statement:
    """One row per column of ``target``, of its history table and of the lock table next to it:
    ``(TABLE_NAME, COLUMN_NAME)``. What a load needs to know before it creates anything, in one
    query (no rows for a table: it does not exist; an error: neither does the database)."""
    db = quote_identifier(target.database, "database")
    names = (target.table.upper(), history_table(target).table.upper(), lock_table(target).table.upper())
    return Statement(
        f"SELECT TABLE_NAME, COLUMN_NAME FROM {db}.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?, ?)",
        (target.schema.upper(), *names),
    )


def table_columns(target: TableRef) -> Statement:
    """One row per column of ``target``: its name."""
    db = quote_identifier(target.database, "database")
    return Statement(
        f"SELECT COLUMN_NAME FROM {db}.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        (target.schema.upper(), target.table.upper()),
    )


def create_table(target: TableRef, schema: pa.Schema, *, metadata: bool = False) -> Statement:
    """``CREATE TABLE IF NOT EXISTS`` with one column per Parquet field (types via ``snowflake_type``);
    ``metadata``: followed by the :data:`METADATA_COLUMNS` (a persisted table)."""
    columns = snowflake_columns(schema)
    if not columns:
        raise MetricdagError(f"cannot create {target.sql}: the Parquet schema has no columns")
    seen: dict[str, str] = {}
    for field in schema:
        upper = field.name.upper()
        if upper in seen:
            raise MetricdagError(
                f"cannot create {target.sql}: columns {seen[upper]!r} and {field.name!r} are the same "
                "Snowflake column (names are case-insensitive)"
            )
        seen[upper] = field.name
        if metadata and upper in {name for name, _ in METADATA_COLUMNS}:
            raise MetricdagError(
                f"cannot load into {target.sql}: the file has a column {field.name!r}, a name the persister "
                "reserves for its metadata columns (" + ", ".join(n for n, _ in METADATA_COLUMNS) + ")"
            )
    if metadata:
        columns = columns + [(quote_identifier(name, "column"), type_) for name, type_ in METADATA_COLUMNS]
    body = ", ".join(f"{name} {type_}" for name, type_ in columns)
    return Statement(f"CREATE TABLE IF NOT EXISTS {target.sql} ({body})")


def add_metadata_columns(target: TableRef, existing: set[str]) -> tuple[Statement, ...]:
    """``ALTER TABLE ... ADD COLUMN`` for each metadata column a table from before them lacks
    (``existing``: the table's column names, upper case). Older rows keep NULL there."""
    return tuple(
        Statement(f"ALTER TABLE {target.sql} ADD COLUMN IF NOT EXISTS {quote_identifier(name, 'column')} {type_}")
        for name, type_ in METADATA_COLUMNS
        if name not in existing
    )


def history_table(target: TableRef) -> TableRef:
    """``<TABLE>__HISTORY`` next to ``target``: what each load published, kept after the
    partition is replaced (what ``metricdag explain --compare-to`` reads for an earlier run)."""
    return TableRef(target.database, target.schema, target.table + HISTORY_SUFFIX)


def create_history_table(target: TableRef) -> Statement:
    """The history table with exactly ``target``'s columns (run only when it is missing)."""
    return Statement(f"CREATE TABLE {history_table(target).sql} AS SELECT * FROM {target.sql} WHERE 1 = 0")


def copy_to_history(target: TableRef, partition_column: str, value: date) -> Statement:
    """Append the partition as it stands (inside the load transaction, after COPY)."""
    return Statement(
        f"INSERT INTO {history_table(target).sql} SELECT * FROM {target.sql} "
        f"WHERE {quote_identifier(partition_column, 'partition column')} = ?",
        (value,),
    )


def parse_table(qualified: str) -> TableRef:
    """``"DB"."SCHEMA"."TABLE"`` (as :attr:`TableRef.sql` writes it, e.g. in the audit store) back
    to a :class:`TableRef` (each part validated again)."""
    parts = qualified.split(".")
    if len(parts) != 3 or not all(len(p) > 2 and p.startswith('"') and p.endswith('"') for p in parts):
        raise MetricdagError(f"not a qualified table name: {qualified!r} (expected \"DB\".\"SCHEMA\".\"TABLE\")")
    database, schema, table = (p[1:-1] for p in parts)
    return TableRef(database, schema, table)


def select_published(target: TableRef, partition_column: str, value: date, run_id: str, *, history: bool) -> Statement:
    """The rows run ``run_id`` published into the partition: from ``<TABLE>__HISTORY`` (every
    load), or from the table itself (only while it still holds them)."""
    source = history_table(target) if history else target
    return Statement(
        f"SELECT * FROM {source.sql} WHERE {quote_identifier(partition_column, 'partition column')} = ? "
        f"AND {quote_identifier(RUN_ID_COLUMN)} = ?",
        (value, run_id),
    )


# ------------------------------------------------------------------------------------- DML


def delete_partition(target: TableRef, partition_column: str, value: date) -> Statement:
    return Statement(
        f"DELETE FROM {target.sql} WHERE {quote_identifier(partition_column, 'partition column')} = ?", (value,)
    )


def set_load_metadata(
    target: TableRef, partition_column: str, value: date, *, metric_version: str | None, run_id: str, loaded_at: datetime
) -> Statement:
    """Stamp the partition's rows (just copied) with the metric version, run id and load time."""
    return Statement(
        f"UPDATE {target.sql} SET {quote_identifier(METRIC_VERSION_COLUMN)} = ?, {quote_identifier(RUN_ID_COLUMN)} = ?, "
        f"{quote_identifier(LOADED_AT_COLUMN)} = ? WHERE {quote_identifier(partition_column, 'partition column')} = ?",
        (metric_version, run_id, loaded_at, value),
    )


def count_partition(target: TableRef, partition_column: str, value: date) -> Statement:
    return Statement(
        f"SELECT COUNT(*) FROM {target.sql} WHERE {quote_identifier(partition_column, 'partition column')} = ?",
        (value,),
    )


def partition_fingerprint(target: TableRef, partition_column: str, value: date, columns: list[str]) -> Statement:
    """One row: the partition's row count and a fingerprint of its rows (``BITXOR_AGG`` of a
    ``HASH`` of ``columns``, as text; NULL when the partition is empty). Order-independent and one scan,
    so it is cheap to compare with what the ledger recorded after the last load."""
    if not columns:
        raise MetricdagError(f"cannot fingerprint {target.sql}: no columns given")
    hashed = ", ".join(quote_identifier(c, "column") for c in columns)
    return Statement(
        f"SELECT COUNT(*), TO_VARCHAR(BITXOR_AGG(HASH({hashed}))) FROM {target.sql} "
        f"WHERE {quote_identifier(partition_column, 'partition column')} = ?",
        (value,),
    )


def copy_into(target: TableRef, source: CopySource, *, force: bool = False) -> Statement:
    """``COPY INTO`` one file, named in ``FILES=(...)`` under its folder (a COPY whose FROM is a
    single file URL loads nothing in fakesnow, and ``FILES=`` is what Snowflake recommends).

    ``force`` loads the file even if this table's load history has it (``FORCE=TRUE``): only for
    a reload of a partition that was just deleted in the same transaction."""
    file_name = validate_file_name(source.file_name)
    options = f"{COPY_OPTIONS} FORCE=TRUE" if force else COPY_OPTIONS
    return Statement(f"COPY INTO {target.sql} FROM {source.location} FILES=('{file_name}') {options}")


# ------------------------------------------------------------------------------ load locks

LOCK_TABLE = "METRICDAG_LOAD_LOCKS"


def lock_table(target: TableRef) -> TableRef:
    """The table of load locks next to ``target``: one row per (table, partition) ever loaded."""
    return TableRef(target.database, target.schema, LOCK_TABLE)


def create_lock_table(target: TableRef) -> Statement:
    return Statement(
        f'CREATE TABLE IF NOT EXISTS {lock_table(target).sql} '
        '("TABLE_NAME" VARCHAR, "PARTITION_VALUE" DATE, "RUN_ID" VARCHAR)'
    )


def insert_lock_row(target: TableRef, value: date) -> Statement:
    """The partition's lock row, when it has none yet (a concurrent duplicate does no harm: the
    lock statement updates every matching row)."""
    locks = lock_table(target).sql
    name = target.table.upper()
    return Statement(
        f'INSERT INTO {locks} ("TABLE_NAME", "PARTITION_VALUE") SELECT ?, ? WHERE NOT EXISTS '
        f'(SELECT 1 FROM {locks} WHERE "TABLE_NAME" = ? AND "PARTITION_VALUE" = ?)',
        (name, value, name, value),
    )


def take_lock(target: TableRef, value: date, run_id: str) -> Statement:
    """The first statement of a load transaction: it updates the partition's lock row, so a
    second load of the same partition waits (Snowflake) or fails with a write conflict (fakesnow)
    until the first one commits or rolls back, and then sees the first one's rows."""
    return Statement(
        f'UPDATE {lock_table(target).sql} SET "RUN_ID" = ? WHERE "TABLE_NAME" = ? AND "PARTITION_VALUE" = ?',
        (run_id, target.table.upper(), value),
    )


# --------------------------------------------------------------------------- COPY sources


def validate_file_name(name: str) -> str:
    if not _FILE_NAME.fullmatch(name) or name in {".", ".."}:
        raise MetricdagError(
            f"invalid file name {name!r} for COPY: use only letters, digits and . _ = - "
            "(the name is written into the SQL statement)"
        )
    return name


def _split_file(uri: str, path: str) -> tuple[str, str]:
    """``(folder, file name)`` of ``path``, both checked: they are written into the statement."""
    folder, _, name = path.rpartition("/")
    if not name:
        raise MetricdagError(f"source {uri!r} names a folder; the persister loads one Parquet file")
    validate_file_name(name)
    if not _PATH.fullmatch(folder):
        raise MetricdagError(
            f"cannot load {uri!r}: its folder may only contain letters, digits and . _ = + ~ / - "
            "(the folder is written into the SQL statement)"
        )
    return folder, name


def stage_ref(stage: str) -> str:
    """``@"DB"."SCHEMA"."STAGE"`` from ``db.schema.stage`` (1 to 3 plain identifiers)."""
    parts = stage.split(".")
    if not 1 <= len(parts) <= 3:
        raise MetricdagError(f"invalid stage name {stage!r}: expected [database.][schema.]stage")
    return "@" + ".".join(quote_identifier(p, "stage name part") for p in parts)


def copy_source(source_uri: str, stage: str | None = None, stage_root_uri: str | None = None) -> CopySource:
    """The COPY location for one Parquet file.

    * ``file:///dir/name.parquet`` -> ``'file:///dir/'`` + ``name.parquet``
    * ``s3://bucket/key/name.parquet`` with a ``stage`` over ``stage_root_uri`` (the object
      store's base URI) -> ``@"STAGE"/<key relative to the root>/`` + ``name.parquet``
    * ``s3://...`` without a stage -> ``'s3://bucket/key/'`` + ``name.parquet``
    """
    if source_uri.startswith("file://"):
        folder, name = _split_file(source_uri, source_uri[len("file://") :])
        if not folder.startswith("/"):
            raise MetricdagError(f"source {source_uri!r} must be an absolute file:// URI")
        return CopySource(f"'file://{folder}/'", name)
    if source_uri.startswith("s3://"):
        bucket, _, key = source_uri[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise MetricdagError(f"source {source_uri!r}: {bucket!r} is not a valid S3 bucket name")
        folder, name = _split_file(source_uri, key)
        if stage is None:
            location = f"s3://{bucket}/{folder}/" if folder else f"s3://{bucket}/"
            return CopySource(f"'{location}'", name)
        root = (stage_root_uri or "").rstrip("/") + "/"
        if not stage_root_uri or not source_uri.startswith(root):
            raise MetricdagError(
                f"source {source_uri!r} is not under {stage_root_uri!r}, the location of stage {stage!r}; "
                "write the file under the object store's base URI or unset snowflake.stage"
            )
        relative_folder = source_uri[len(root) :].rpartition("/")[0]
        suffix = f"/{relative_folder}/" if relative_folder else "/"
        return CopySource(stage_ref(stage) + suffix, name)
    raise MetricdagError(f"unsupported source {source_uri!r}: the persister loads file:// or s3:// Parquet files")



# ------------------------------------------------------------------ table-to-table loads
# A SQL node's output already lives in the warehouse: its partition is copied from the node's
# intermediate table inside the warehouse (INSERT ... SELECT in the load transaction, in place of
# COPY), with every other statement of a file load unchanged.


def create_table_like(target: TableRef, source: TableRef, columns: list[str]) -> Statement:
    """The target with ``columns`` of ``source`` (their warehouse types) and the metadata columns."""
    if not columns:
        raise MetricdagError(f"cannot create {target.sql}: no columns to copy from {source.sql}")
    picked = ", ".join(quote_identifier(c, "column") for c in columns)
    metadata = ", ".join(f"CAST(NULL AS {type_}) AS {quote_identifier(name, 'column')}" for name, type_ in METADATA_COLUMNS)
    return Statement(f"CREATE TABLE IF NOT EXISTS {target.sql} AS SELECT {picked}, {metadata} FROM {source.sql} WHERE 1 = 0")


def insert_partition_from(
    target: TableRef, source: TableRef, columns: list[str], source_partition_column: str, value: date
) -> Statement:
    """Copy the source's partition into the target (one row, one column: the rows inserted)."""
    picked = ", ".join(quote_identifier(c, "column") for c in columns)
    return Statement(
        f"INSERT INTO {target.sql} ({picked}) SELECT {picked} FROM {source.sql} "
        f"WHERE {quote_identifier(source_partition_column, 'partition column')} = ?",
        (value,),
    )
