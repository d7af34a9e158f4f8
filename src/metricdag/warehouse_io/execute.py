"""Run a SQL node in the warehouse: its SELECT replaces the day's partition of its intermediate
table in ONE transaction, with the persister's statements (load lock, DELETE, counts) around an
``INSERT ... SELECT``; nothing leaves the warehouse. On any failure the transaction is rolled back
and the partition keeps its previous rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from metricdag.catalog.models import DatasetSchema
from metricdag.nodes.errors import NodeError
from metricdag.persistence import sql
from metricdag.settings import SnowflakeSettings
from metricdag.warehouse import WarehouseError, connect, execute, transaction
from metricdag.warehouse_io.statements import arrow_schema, duplicate_keys, insert_select
from metricdag.warehouse_io.tables import WarehouseTable



@dataclass(frozen=True)
class NodeQuery:
    node: str
    path: str  # the .sql file, for messages
    sql: str  # rendered: inputs replaced, :partition_date as ?
    params: tuple[Any, ...]


def ensure_intermediate(cursor: Any, target: WarehouseTable, schema: DatasetSchema) -> None:
    """The database, schema, table (from the catalog schema) and the partition's lock row."""
    ref = target.ref
    for statement in (sql.create_database(ref), sql.create_schema(ref)):
        execute(cursor, statement.sql, statement.params)
    exists = sql.table_exists(ref)
    execute(cursor, exists.sql, exists.params)
    (found,) = cursor.fetchone()
    if not found:
        create = sql.create_table(ref, arrow_schema(schema))
        execute(cursor, create.sql, create.params)
    for statement in (sql.create_lock_table(ref), sql.insert_lock_row(ref, target.partition)):
        execute(cursor, statement.sql, statement.params)


def replace_with_query(
    cursor: Any, query: NodeQuery, target: WarehouseTable, key: Sequence[str], run_id: str
) -> WarehouseTable:
    """Lock + DELETE + INSERT ... SELECT + checks + COMMIT; the written partition with its row
    count and the INSERT's query id. Rolls back on any error."""
    ref, day, column = target.ref, target.partition, target.partition_column
    lock = sql.take_lock(ref, day, run_id)
    delete = sql.delete_partition(ref, column, day)
    insert = insert_select(ref, target.columns, query.sql, query.params)
    count = sql.count_partition(ref, column, day)
    with transaction(cursor):
        execute(cursor, lock.sql, lock.params)
        execute(cursor, delete.sql, delete.params)
        execute(cursor, insert.sql, insert.params)
        query_id = cursor.sfqid
        inserted = int(cursor.fetchone()[0]) if cursor.description else int(cursor.rowcount or 0)
        execute(cursor, count.sql, count.params)
        (in_partition,) = cursor.fetchone()
        where = f"{target.sql} partition {column}={day}"
        if int(in_partition) != inserted:
            raise NodeError(
                f"node {query.node!r} ({query.path}): the query returned {inserted} rows but only {in_partition} "
                f"have {column} = {day} (the run's partition); select only the day's rows (WHERE ... = :partition_date)"
                f"; {where} was left unchanged"
            )
        if key:
            dupes = duplicate_keys(ref, column, day, key)
            execute(cursor, dupes.sql, dupes.params)
            duplicated, null_keys = cursor.fetchone()
            if int(duplicated) or int(null_keys):
                raise NodeError(
                    f"node {query.node!r} ({query.path}): output {target.dataset!r} has {int(duplicated)} duplicated "
                    f"and {int(null_keys)} null value(s) of its key ({', '.join(key)}); {where} was left unchanged"
                )
    return target.model_copy(update={"rows": inserted, "query_id": query_id})


def run_node_query(
    settings: SnowflakeSettings, query: NodeQuery, target: WarehouseTable, schema: DatasetSchema,
    key: Sequence[str], run_id: str,
) -> WarehouseTable:
    """Connect, create what is missing, replace the partition (a failing statement names the node's file)."""
    with connect(settings, database=target.database) as conn:
        cursor = conn.cursor()
        try:
            ensure_intermediate(cursor, target, schema)
            return replace_with_query(cursor, query, target, key, run_id)
        except WarehouseError as exc:
            raise WarehouseError(
                f"node {query.node!r} ({query.path}) failed in the warehouse and was rolled back: {exc}",
                exc.errno, transient=exc.transient,
            ) from None
        finally:
            cursor.close()
