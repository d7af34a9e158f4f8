"""Publish a backfill: a range of partitions moves from a staging schema into production at once.

A staging backfill loads every partition through the ordinary persister, but into
``<SCHEMA>__STAGING_<id>`` (:func:`staging_schema`) instead of ``<SCHEMA>``. Once every partition
passed its review, :func:`publish_range` moves the range of each persisted table into production
in ONE transaction: for every partition whose rows differ from production it deletes the
production partition and inserts the staging rows, column by column BY NAME; a partition whose
rows already equal production's is left alone, so the same backfill run again changes no row.

The SQL works the same against Snowflake and the local fakesnow (DuckDB) server: a transaction
around DELETE + INSERT ... SELECT, ``INFORMATION_SCHEMA`` for columns, ``CREATE TABLE ... LIKE``
(both checked through the server). ``ALTER TABLE ... SWAP WITH`` (Snowflake's whole-table swap) is
NOT used: fakesnow's parser refuses it, and a backfill replaces a range, not a whole table.
Table creation happens before the transaction, because Snowflake commits implicitly on DDL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from metricdag.errors import MetricdagError
from metricdag.persistence import sql
from metricdag.persistence.sql import Statement, TableRef
from metricdag.warehouse import WarehouseError, connect, execute, quote_identifier, transaction, validate_identifier

log = logging.getLogger(__name__)

STAGING_TAG = "metricdag.staging"
"""Run tag: the persist step loads into ``<SCHEMA>__STAGING_<value>`` instead of ``<SCHEMA>``."""
STAGING_MARK = "__STAGING_"
_STAGING_ID = re.compile(r"[A-Za-z0-9_]{1,64}")
# metadata columns that differ on every load although the data is the same: not compared
VOLATILE_COLUMNS = frozenset({"_RUN_ID", "_LOADED_AT"})


class PublishError(MetricdagError):
    """The publish transaction was refused or rolled back: production is as it was."""


def staging_schema(schema: str, staging_id: str) -> str:
    """``<SCHEMA>__STAGING_<ID>``, a plain identifier; the id is letters, digits and ``_``."""
    if not isinstance(staging_id, str) or not _STAGING_ID.fullmatch(staging_id):
        raise MetricdagError(f"invalid staging id {str(staging_id)[:80]!r}: use 1 to 64 letters, digits or '_'")
    return validate_identifier(f"{schema}{STAGING_MARK}{staging_id}".upper(), "staging schema")


def is_staging_schema(schema: str) -> bool:
    return STAGING_MARK in schema.upper()


# ------------------------------------------------------------------------------------- SQL


def columns_of(table: TableRef) -> Statement:
    """One row per column, in table order: name, data type."""
    db = quote_identifier(table.database, "database")
    return Statement(
        f"SELECT COLUMN_NAME, DATA_TYPE FROM {db}.INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (table.schema.upper(), table.table.upper()),
    )


def create_like(target: TableRef, template: TableRef) -> Statement:
    return Statement(f"CREATE TABLE {target.sql} LIKE {template.sql}")


def _in_list(column: str, days: Sequence[date]) -> tuple[str, tuple[Any, ...]]:
    if not days:
        raise MetricdagError("no partitions given")
    return f"{quote_identifier(column, 'partition column')} IN ({', '.join('?' for _ in days)})", tuple(days)


def partition_fingerprints(table: TableRef, partition_column: str, days: Sequence[date], columns: Sequence[str]) -> Statement:
    """One row per partition of ``days`` that has rows: partition, row count, fingerprint of
    ``columns`` (order-independent ``BITXOR_AGG`` of ``HASH``, as the persister's ledger uses)."""
    where, params = _in_list(partition_column, days)
    hashed = ", ".join(quote_identifier(c, "column") for c in columns)
    col = quote_identifier(partition_column, "partition column")
    return Statement(
        f"SELECT {col}, COUNT(*), TO_VARCHAR(BITXOR_AGG(HASH({hashed}))) FROM {table.sql} WHERE {where} GROUP BY {col}",
        params,
    )


def delete_partitions(target: TableRef, partition_column: str, days: Sequence[date]) -> Statement:
    where, params = _in_list(partition_column, days)
    return Statement(f"DELETE FROM {target.sql} WHERE {where}", params)


def insert_from(target: TableRef, source: TableRef, partition_column: str, days: Sequence[date], columns: Sequence[str]) -> Statement:
    """Copy ``days`` from ``source`` to ``target``, the given columns matched by name."""
    where, params = _in_list(partition_column, days)
    names = ", ".join(quote_identifier(c, "column") for c in columns)
    return Statement(f"INSERT INTO {target.sql} ({names}) SELECT {names} FROM {source.sql} WHERE {where}", params)


def drop_schema(database: str, schema: str) -> Statement:
    if not is_staging_schema(schema):  # this module only ever drops what it staged
        raise MetricdagError(f"refusing to drop {schema!r}: not a staging schema")
    return Statement(
        f"DROP SCHEMA IF EXISTS {quote_identifier(database, 'database')}.{quote_identifier(schema, 'schema')} CASCADE"
    )


# ------------------------------------------------------------------------------- publishing


@dataclass(frozen=True)
class PublishTarget:
    """One persisted table of the metric: where it was staged and where it is published."""

    dataset: str
    production: TableRef
    staging: TableRef
    partition_column: str


@dataclass(frozen=True)
class PartitionPublished:
    day: date
    rows: int
    changed: bool  # False: production already held exactly these rows (left alone)


@dataclass
class TablePublished:
    dataset: str
    table: str  # production, quoted
    staging: str
    columns: list[str]
    partitions: list[PartitionPublished] = field(default_factory=list)

    @property
    def changed(self) -> list[PartitionPublished]:
        return [p for p in self.partitions if p.changed]


def _rows(cursor: Any, statement: Statement) -> list[tuple]:
    execute(cursor, statement.sql, statement.params)
    return [tuple(r) for r in cursor.fetchall()]


def _fingerprints(cursor: Any, table: TableRef, column: str, days: Sequence[date], columns: Sequence[str]) -> dict[date, tuple[int, str | None]]:
    found = _rows(cursor, partition_fingerprints(table, column, days, columns))
    return {_as_date(d): (int(n), None if f is None else str(f)) for d, n, f in found}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _columns(cursor: Any, table: TableRef) -> list[str]:
    return [str(name).upper() for name, _ in _rows(cursor, columns_of(table))]


def prepare(cursor: Any, target: PublishTarget, days: Sequence[date]) -> list[str]:
    """Outside the transaction (DDL commits in Snowflake): check the staging table exists,
    create the production table like it when missing, and the production load-lock rows.
    Returns the columns to publish: the staging table's, in its order, that production has."""
    staged = _columns(cursor, target.staging)
    if not staged:
        raise PublishError(f"{target.staging.sql}: the staging table does not exist (nothing was staged)")
    for statement in (sql.create_database(target.production), sql.create_schema(target.production)):
        execute(cursor, statement.sql, statement.params)
    production = _columns(cursor, target.production)
    if not production:
        execute(cursor, *_sp(create_like(target.production, target.staging)))
        log.info("created %s like %s", target.production.sql, target.staging.sql)
        production = staged
    common = [c for c in staged if c in set(production)]
    if target.partition_column.upper() not in common:
        raise PublishError(f"{target.production.sql} and {target.staging.sql} do not share partition column "
                           f"{target.partition_column.upper()}")
    missing = [c for c in staged if c not in set(production)]
    if missing:
        log.warning("%s has no column(s) %s of %s: they are not published", target.production.sql,
                    ", ".join(missing), target.staging.sql)
    if not _columns(cursor, sql.history_table(target.production)):
        execute(cursor, *_sp(sql.create_history_table(target.production)))
    execute(cursor, *_sp(sql.create_lock_table(target.production)))
    for day in days:
        execute(cursor, *_sp(sql.insert_lock_row(target.production, day)))
    return common


def _sp(statement: Statement) -> tuple[str, tuple]:
    return statement.sql, statement.params


def publish_table(cursor: Any, target: PublishTarget, days: Sequence[date], columns: list[str], run_id: str) -> TablePublished:
    """Inside the transaction: lock the range, replace each partition that differs, verify."""
    for day in days:  # first: a daily load of one of these partitions waits for this transaction
        execute(cursor, *_sp(sql.take_lock(target.production, day, run_id)))
    compared = [c for c in columns if c not in VOLATILE_COLUMNS]
    staged = _fingerprints(cursor, target.staging, target.partition_column, days, compared)
    before = _fingerprints(cursor, target.production, target.partition_column, days, compared)
    changed = [d for d in days if staged.get(d, (0, None)) != before.get(d, (0, None))]
    if changed:
        execute(cursor, *_sp(delete_partitions(target.production, target.partition_column, changed)))
        execute(cursor, *_sp(insert_from(target.production, target.staging, target.partition_column, changed, columns)))
        for day in changed:  # as a daily load does: what the partition now holds, kept after it is replaced
            execute(cursor, *_sp(sql.copy_to_history(target.production, target.partition_column, day)))
    after = _fingerprints(cursor, target.production, target.partition_column, days, compared)
    for day in days:
        if after.get(day, (0, None)) != staged.get(day, (0, None)):
            raise PublishError(
                f"{target.production.sql} partition {day}: after publishing it holds {after.get(day, (0, None))[0]} "
                f"rows, staging {target.staging.sql} has {staged.get(day, (0, None))[0]}"
            )
    out = TablePublished(target.dataset, target.production.sql, target.staging.sql, columns)
    for day in days:
        out.partitions.append(PartitionPublished(day, after.get(day, (0, None))[0], day in changed))
    return out


def publish_range(settings: Any, targets: Sequence[PublishTarget], days: Sequence[date], run_id: str) -> list[TablePublished]:
    """Every target's ``days`` from staging into production in ONE transaction: all or nothing.

    ``settings`` are the environment's :class:`~metricdag.settings.SnowflakeSettings`; ``run_id``
    goes into the load-lock rows (the backfill's id)."""
    if not targets:
        return []
    days = sorted(set(days))
    database = targets[0].production.database
    try:
        with connect(settings, database=database) as conn:
            cursor = conn.cursor()
            columns = [prepare(cursor, t, days) for t in targets]
            with transaction(cursor):
                published = [publish_table(cursor, t, days, c, run_id) for t, c in zip(targets, columns, strict=True)]
    except WarehouseError as exc:
        raise PublishError(f"publishing {days[0]} .. {days[-1]} failed and was rolled back: {exc}",
                           transient=exc.transient) from None
    return published


def drop_staging(settings: Any, database: str, schemas: Sequence[str]) -> None:
    with connect(settings, database=database) as conn:
        cursor = conn.cursor()
        for schema in sorted(set(schemas)):
            execute(cursor, *_sp(drop_schema(database, schema)))
