"""The persister: a Lambda-style ``handler(event, context)`` that replaces one partition.

Steps, each a small function below:

1. parse the event (:class:`PersistRequest`: unknown keys and bad identifiers are refused here,
   before any SQL exists) and resolve the environment it names;
2. read the Parquet file from the object store: schema, row count, checksum, and the distinct
   values of the partition column, which must all equal ``partition_value``;
3. create the database, schema and table if missing (columns from the Parquet schema);
4. in ONE transaction: take the partition's load lock (an UPDATE of its row in
   ``METRICDAG_LOAD_LOCKS``; the row is created first only on the partition's first load), so
   concurrent loads of one partition run one after the other; when the ledger says the
   partition already holds this file content, check that against the table (row count and
   fingerprint) and stop if it agrees; otherwise DELETE the partition, COPY the file, stamp its
   rows with the metadata columns (``_METRIC_VERSION``, ``_RUN_ID``, ``_LOADED_AT``), count and
   fingerprint the partition in one query, check that COPY loaded every Parquet row (its
   ``rows_loaded``) and that the partition now holds exactly that many rows, append them to
   ``<TABLE>__HISTORY`` (a metric's load), COMMIT; on any failure ROLLBACK, so the previous
   rows stay in place, and raise :class:`PersistError`;
5. record the load (audit record, ledger entry and, for a metric's load, the publication record
   with its lineage) in the audit store.

Re-running for the same partition leaves exactly one copy (delete + load). Each run attempt
must write a uniquely named file: Snowflake skips files it has loaded before (``LOAD_SKIPPED``),
which here is an error rather than a silent no-op. A partition another load holds is waited
for (with backoff, up to :data:`LOCK_WAIT_S`), then :class:`PartitionBusyError` (transient).

Every failure says whether another attempt may succeed: a transient one (Snowflake or the
object store unreachable, throttled, timed out) leaves the handler as
:class:`TransientPersistError`, anything else as :class:`PersistError` (or a config error),
so the class name a deployed Lambda reports as ``errorType`` carries the classification.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from metricdag.audit.store import AuditStore, Publication, audit_store_for
from metricdag.errors import MetricdagError, describe_errors
from metricdag.io.objectstore import env_store, sha256_hex
from metricdag.persistence import sql
from metricdag.persistence.request import (
    PartitionBusyError,
    PersistError,
    PersistRequest,
    PersistResult,
    TransientPersistError,
)
from metricdag.retries import describe, is_transient
from metricdag.settings import Environment, load_environment
from metricdag.warehouse import WarehouseError, connect, execute, rollback

if TYPE_CHECKING:
    import pyarrow as pa

    from metricdag.audit.models import LedgerEntry

log = logging.getLogger(__name__)

MAX_VALUES_SHOWN = 3
LOCK_WAIT_S = 60.0  # how long a load waits for another load of the same partition
LOCK_RETRY_FIRST_S, LOCK_RETRY_MAX_S = 0.2, 2.0  # backoff between attempts to take the partition
# Snowflake's "statement aborted: another transaction holds the lock" (000625); the local
# Snowflake server (localstack/snowflake_server.py) reports DuckDB's write conflicts with it too.
LOCK_CONFLICT_ERRNO = 625
DOES_NOT_EXIST_ERRNO = 2003  # "Database ... does not exist or not authorized" (fakesnow: DuckDB's catalog error)


# ------------------------------------------------------------------------------ the Parquet file


@dataclass(frozen=True)
class ParquetFacts:
    schema: pa.Schema
    num_rows: int
    checksum: str
    partition_values: list[Any]  # distinct values of the partition column, None for null


def parquet_facts(data: bytes, partition_column: str, *, dataset: str, source_uri: str) -> ParquetFacts:
    """Schema, row count (from the footer), checksum and distinct partition values of a file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise PersistError(f"dataset {dataset}: {source_uri} is not a readable Parquet file: {exc}") from None
    schema = parquet.schema_arrow
    if partition_column not in schema.names:
        raise PersistError(
            f"dataset {dataset}: {source_uri} has no partition column {partition_column!r} "
            f"(columns: {', '.join(schema.names)})"
        )
    column_type = schema.field(partition_column).type
    if not pa.types.is_date32(column_type):
        raise PersistError(
            f"dataset {dataset}: partition column {partition_column!r} in {source_uri} has type {column_type}; "
            "it must be a date (date32): store datetime.date values, e.g. pandas Series.dt.date"
        )
    values = pc.unique(parquet.read(columns=[partition_column]).column(0)).to_pylist()
    return ParquetFacts(schema, parquet.metadata.num_rows, sha256_hex(data), values)


def check_partition_values(
    values: Sequence[Any], expected: date, *, dataset: str, source_uri: str, partition_column: str
) -> None:
    """Refuse a file holding any row outside the partition it is loaded into (or a null)."""
    offending = [v for v in values if v != expected]
    if offending:
        shown = ", ".join("NULL" if v is None else str(v) for v in sorted(offending, key=str)[:MAX_VALUES_SHOWN])
        more = f" and {len(offending) - MAX_VALUES_SHOWN} more" if len(offending) > MAX_VALUES_SHOWN else ""
        raise PersistError(
            f"dataset {dataset}: {source_uri} has rows with {partition_column} = {shown}{more}, "
            f"but it is loaded as partition {partition_column} = {expected}; nothing was loaded"
        )


def check_key_columns(schema: pa.Schema, key_columns: Sequence[str], *, dataset: str, source_uri: str) -> None:
    missing = [k for k in key_columns if k not in schema.names]
    if missing:
        raise PersistError(
            f"dataset {dataset}: key column(s) {', '.join(missing)} are not in {source_uri} "
            f"(columns: {', '.join(schema.names)})"
        )


# ---------------------------------------------------------------------------- the COPY result


@dataclass(frozen=True)
class CopiedFile:
    file: str
    status: str
    rows_loaded: int
    first_error: str | None = None


def parse_copy_result(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[CopiedFile]:
    """One entry per file COPY considered; empty when it found no file at all."""
    names = [c.lower() for c in columns]
    if "file" not in names:  # "Copy executed with 0 files processed."
        return []
    at = {name: i for i, name in enumerate(names)}
    out = []
    for row in rows:
        loaded = row[at["rows_loaded"]] if "rows_loaded" in at else 0
        error = row[at["first_error"]] if "first_error" in at else None
        out.append(CopiedFile(str(row[at["file"]]), str(row[at["status"]]).upper(), int(loaded or 0), error))
    return out


def verify_load(
    *, table: str, partition: str, parquet_rows: int, copied: Sequence[CopiedFile], partition_count: int
) -> int:
    """Rows loaded, when COPY loaded the file completely and the partition holds exactly the
    file's rows; otherwise a :class:`PersistError` naming the table, partition and counts."""
    where = f"{table} partition {partition}"
    if not copied:
        raise PersistError(f"{where}: COPY found no file to load (expected 1 file with {parquet_rows} rows)")
    for f in copied:
        if f.status == "LOAD_SKIPPED":
            raise PersistError(
                f"{where}: COPY skipped {f.file} because a file of that name was loaded into this table before; "
                "every run attempt must write a uniquely named file"
            )
        if f.status != "LOADED":
            raise PersistError(f"{where}: COPY of {f.file} ended with {f.status}: {f.first_error or 'no detail'}")
    rows_loaded = sum(f.rows_loaded for f in copied)
    if rows_loaded != parquet_rows or partition_count != parquet_rows:
        raise PersistError(
            f"{where}: the Parquet file has {parquet_rows} rows but COPY loaded {rows_loaded} "
            f"and the partition holds {partition_count}"
        )
    return rows_loaded


# ------------------------------------------------------------------------------- the SQL plan


@dataclass(frozen=True)
class LoadPlan:
    target: sql.TableRef
    partition: str  # COLUMN=YYYY-MM-DD, for messages
    setup: tuple[sql.Statement, ...]  # database and schema, IF NOT EXISTS (only when the table is missing)
    existing: sql.Statement  # the columns of the table, its history table and the lock table
    create_table: sql.Statement
    add_metadata: Callable[[set[str]], tuple[sql.Statement, ...]]  # for a table from before them
    history: bool  # False: no history (a load that is not a metric's, e.g. raw data)
    create_history: sql.Statement
    set_metadata: sql.Statement
    to_history: sql.Statement | None
    loaded_at: datetime
    create_locks: sql.Statement  # the lock table, IF NOT EXISTS (only when it is missing)
    lock_row: sql.Statement  # this partition's lock row, when it has none (its first load)
    take_lock: sql.Statement
    delete: sql.Statement
    copy: sql.Statement
    copy_forced: sql.Statement  # a reload of a file the table's load history may still hold
    fingerprint: Callable[[Sequence[str]], sql.Statement]  # of the partition, over the given columns
    file_columns: tuple[str, ...]
    from_table: str | None = None  # a table-to-table load: the source table (copy is an INSERT ... SELECT)


@dataclass(frozen=True)
class TableLoad:
    """The statements that stand in for COPY when the rows come from a warehouse table."""

    source: sql.TableRef
    columns: tuple[str, ...]
    create: sql.Statement
    insert: sql.Statement


def table_load(request: PersistRequest) -> TableLoad:
    source = sql.parse_table(request.source_table or "")
    target = sql.TableRef(request.database, request.schema_name, request.table)
    columns = list(request.source_columns)
    return TableLoad(
        source=source, columns=tuple(columns), create=sql.create_table_like(target, source, columns),
        insert=sql.insert_partition_from(target, source, columns, request.source_partition_column or "",
                                         request.partition_value),
    )


def plan_load(
    request: PersistRequest, schema: pa.Schema | None, env: Environment, loaded_at: datetime | None = None,
    copy_uri: str | None = None, *, load: TableLoad | None = None,
) -> LoadPlan:
    """Every statement of the load, built (and validated) before a connection is opened.
    ``loaded_at`` (UTC, default now) is what the rows' ``_LOADED_AT`` says; ``copy_uri`` where
    COPY reads the file (default: the source; :func:`copy_location`). ``load``: the rows come
    from a warehouse table (``schema`` is then None), not from the file of ``request.source_uri``."""
    target = sql.TableRef(request.database, request.schema_name, request.table)
    source = None if load else sql.copy_source(copy_uri or request.source_uri, env.snowflake.stage,
                                               env.object_store_uri)
    value = request.partition_value
    loaded_at = loaded_at or datetime.now(timezone.utc).replace(tzinfo=None)
    return LoadPlan(
        target=target,
        partition=f"{request.partition_column.upper()}={value.isoformat()}",
        setup=(sql.create_database(target), sql.create_schema(target)),
        existing=sql.existing_columns(target),
        create_table=load.create if load else sql.create_table(target, schema, metadata=True),
        add_metadata=functools.partial(sql.add_metadata_columns, target),
        history=bool(request.metric),
        create_history=sql.create_history_table(target),
        set_metadata=sql.set_load_metadata(
            target, request.partition_column, value,
            metric_version=request.metric_version, run_id=request.run_id, loaded_at=loaded_at,
        ),
        to_history=sql.copy_to_history(target, request.partition_column, value) if request.metric else None,
        loaded_at=loaded_at,
        create_locks=sql.create_lock_table(target),
        lock_row=sql.insert_lock_row(target, value),
        take_lock=sql.take_lock(target, value, request.run_id),
        delete=sql.delete_partition(target, request.partition_column, value),
        copy=load.insert if load else sql.copy_into(target, source),
        copy_forced=load.insert if load else sql.copy_into(target, source, force=True),
        fingerprint=functools.partial(sql.partition_fingerprint, target, request.partition_column, value),
        file_columns=load.columns if load else tuple(schema.names),
        from_table=load.source.sql if load else None,
    )


# ---------------------------------------------------------------------------- the transaction


@dataclass(frozen=True)
class TableState:
    """The target table as the load found (or made) it."""

    created: bool  # it did not exist before this load
    columns: frozenset[str]  # its column names, upper case


def existing_tables(cursor: Any, plan: LoadPlan) -> dict[str, set[str]]:
    """Table name (upper case) -> its column names (upper case), for the target, its history
    table and the lock table, those that exist. Empty when the database does not exist."""
    try:
        execute(cursor, plan.existing.sql, plan.existing.params)
    except WarehouseError as exc:
        if exc.errno != DOES_NOT_EXIST_ERRNO:
            raise
        return {}  # no such database (yet): the setup creates it
    found: dict[str, set[str]] = {}
    for table, column in cursor.fetchall():
        found.setdefault(str(table).upper(), set()).add(str(column).upper())
    return found


def ensure_table(cursor: Any, plan: LoadPlan) -> TableState:
    """Create the database, schema and table when missing (a table from before the metadata
    columns gains them), its history table and the lock table (the partition's lock row is
    :func:`begin_locked`'s).

    One metadata query says what exists, so a load into an existing table runs no DDL at all
    (``CREATE DATABASE/SCHEMA IF NOT EXISTS`` on every load cost more than the rest of a small
    load's fixed work). The table is created only after checking it is missing, not with a blind
    ``CREATE TABLE IF NOT EXISTS``: fakesnow treats that statement on an existing table as a new
    table and forgets its load history, which would hide a reused file name (LOAD_SKIPPED).
    """
    found = existing_tables(cursor, plan)
    target = plan.target
    columns = found.get(target.table.upper())
    created = columns is None
    if created:
        for statement in plan.setup:
            execute(cursor, statement.sql, statement.params)
        execute(cursor, plan.create_table.sql, plan.create_table.params)
        columns = {c.upper() for c in plan.file_columns} | {name for name, _ in sql.METADATA_COLUMNS}
    else:
        for statement in plan.add_metadata(columns):
            execute(cursor, statement.sql, statement.params)
            columns = columns | {name for name, _ in sql.METADATA_COLUMNS}
    if plan.history and sql.history_table(target).table.upper() not in found:
        execute(cursor, plan.create_history.sql, plan.create_history.params)
    if sql.lock_table(target).table.upper() not in found:
        execute(cursor, plan.create_locks.sql, plan.create_locks.params)
    return TableState(created, frozenset(columns))


def begin_locked(cursor: Any, plan: LoadPlan) -> None:
    """BEGIN, then take the partition's load lock: an UPDATE of its lock row, the transaction's
    first statement, so it waits for (or conflicts with) another load of the partition.

    A partition loaded before has its row, so that is one statement. When the UPDATE finds no
    row (the partition's first load), the row is inserted outside the transaction (a commit of
    its own, so concurrent first loads of a partition all see that one row and queue on it) and
    the lock taken again in a new transaction."""
    execute(cursor, "BEGIN")
    if _updated(cursor, plan.take_lock):
        return
    execute(cursor, "COMMIT")  # it changed nothing
    execute(cursor, plan.lock_row.sql, plan.lock_row.params)
    execute(cursor, "BEGIN")
    if not _updated(cursor, plan.take_lock):
        raise PersistError(f"{plan.target.sql} partition {plan.partition}: its load-lock row could not be created")


def _updated(cursor: Any, statement: sql.Statement) -> int:
    """Rows an UPDATE changed (its result's first column, in Snowflake as in fakesnow)."""
    execute(cursor, statement.sql, statement.params)
    row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


@dataclass(frozen=True)
class PartitionState:
    """What the partition holds: its row count and the fingerprint of its rows (None: empty)."""

    rows: int
    fingerprint: str | None


def fingerprint_columns(plan: LoadPlan, table_columns: frozenset[str]) -> list[str]:
    """The file's columns that the table has (COPY ignores the others), in the file's order."""
    return [c for c in plan.file_columns if c.upper() in table_columns]


def partition_state(cursor: Any, plan: LoadPlan, columns: Sequence[str]) -> PartitionState:
    statement = plan.fingerprint(list(columns))
    execute(cursor, statement.sql, statement.params)
    rows, fingerprint = cursor.fetchone()
    return PartitionState(int(rows), None if fingerprint is None else str(fingerprint))


def ledger_mismatch(last: LedgerEntry, state: PartitionState | None) -> str | None:
    """Why the table does not hold what the ledger says was loaded (None: it does).
    ``state`` is None when the table did not exist."""
    if state is None:
        return f"table did not exist, ledger said {last.rows} rows"
    if state.rows != last.rows:
        return f"table had {state.rows} rows, ledger said {last.rows}"
    if last.fingerprint is None:
        return f"the ledger entry of run {last.run_id} has no fingerprint to check the table's {state.rows} rows against"
    if state.fingerprint != last.fingerprint:
        return (
            f"the table's {state.rows} rows are not the rows run {last.run_id} loaded "
            f"(fingerprint {state.fingerprint}, ledger said {last.fingerprint})"
        )
    return None


@dataclass(frozen=True)
class LoadOutcome:
    status: str  # loaded | already_loaded | reloaded
    rows: int
    fingerprint: str | None
    reason: str | None = None  # why a partition the ledger had was reloaded


def replace_partition(
    cursor: Any, plan: LoadPlan, parquet_rows: int, table: TableState, *, ledger: LedgerEntry | None = None,
) -> LoadOutcome:
    """Lock + (verify the ledger) + DELETE + COPY + stamp + count and fingerprint (one query)
    + verify + history, in one transaction. Rolls back on any error.

    ``ledger`` is the partition's ledger entry when it names this very file content: the load
    is skipped (``already_loaded``) when the table agrees with it, and ``reloaded`` with the
    reason when not. ``table``: what :func:`ensure_table` found (or created)."""
    columns = fingerprint_columns(plan, table.columns)
    try:
        begin_locked(cursor, plan)  # first: it waits for another load
        reason = None
        if ledger is not None:
            reason = ledger_mismatch(ledger, None if table.created else partition_state(cursor, plan, columns))
            if reason is None:
                execute(cursor, "COMMIT")
                return LoadOutcome("already_loaded", ledger.rows, ledger.fingerprint)
        copy = plan.copy if reason is None else plan.copy_forced
        execute(cursor, plan.delete.sql, plan.delete.params)
        execute(cursor, copy.sql, copy.params)
        if plan.from_table:  # INSERT ... SELECT: one row, the rows inserted
            (inserted,) = cursor.fetchone()
            copied = [CopiedFile(plan.from_table, "LOADED", int(inserted))]
        else:
            copied = parse_copy_result([d.name for d in cursor.description or []], cursor.fetchall())
        execute(cursor, plan.set_metadata.sql, plan.set_metadata.params)
        state = partition_state(cursor, plan, columns)  # the partition's row count, and its fingerprint
        rows_loaded = verify_load(
            table=plan.target.sql,
            partition=plan.partition,
            parquet_rows=parquet_rows,
            copied=copied,
            partition_count=state.rows,
        )
        if plan.to_history is not None:
            execute(cursor, plan.to_history.sql, plan.to_history.params)
        execute(cursor, "COMMIT")
        return LoadOutcome("loaded" if reason is None else "reloaded", rows_loaded, state.fingerprint, reason)
    except BaseException:
        rollback(cursor)
        raise


def is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, WarehouseError) and exc.errno == LOCK_CONFLICT_ERRNO


def wait_for_partition(
    attempt: Callable[[], LoadOutcome], plan: LoadPlan, *, wait_s: float | None = None
) -> LoadOutcome:
    """``attempt()``, again (with backoff) while another load holds the partition; after
    ``wait_s`` (default :data:`LOCK_WAIT_S`) a :class:`PartitionBusyError` (each failed attempt
    was rolled back)."""
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    delay = LOCK_RETRY_FIRST_S
    while True:
        try:
            return attempt()
        except WarehouseError as exc:
            if not is_lock_conflict(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise PartitionBusyError(
                    f"another load of {plan.target.sql} partition {plan.partition} is in progress "
                    f"(still after {wait_s:.0f} s); nothing was changed, try again later"
                ) from None
            log.info("%s partition %s: another load is in progress; retrying in %.1f s",
                     plan.target.sql, plan.partition, delay)
        time.sleep(delay * random.uniform(0.75, 1.25))
        delay = min(delay * 2, LOCK_RETRY_MAX_S)


# ------------------------------------------------------------------------------------ handler


def parse_request(event: dict) -> PersistRequest:
    try:
        return PersistRequest.model_validate(event)
    except ValidationError as exc:
        raise PersistError(f"invalid persist request: {describe_errors(exc.errors(), 'event')}") from None


def read_source(request: PersistRequest, env: Environment) -> bytes:
    store = env_store(env, request.source_uri)
    try:
        return store.get_bytes(request.source_uri)
    except Exception as exc:
        raise PersistError(
            f"dataset {request.dataset}: cannot read {request.source_uri}: {exc}", transient=is_transient(exc)
        ) from None


def copy_location(request: PersistRequest, env: Environment, data: bytes) -> str:
    """Where COPY reads the file: the source itself, except with ``snowflake.copy_from_local_file``
    (aws-local: fakesnow cannot read ``s3://`` here), where the bytes already fetched from the
    object store are written to a local temporary folder under the same file name (Snowflake knows
    a loaded file by its name) and COPY reads that copy. The one place a load in aws-local differs
    from prod; the folder goes when the process ends (a Lambda invocation's, here)."""
    if not env.snowflake.copy_from_local_file or not request.source_uri.startswith("s3://"):
        return request.source_uri
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="load-", dir=_local_copies()))
    target = folder / request.source_uri.rpartition("/")[2]
    target.write_bytes(data)
    return "file://" + str(target)


@functools.lru_cache(maxsize=1)
def _local_copies() -> str:
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="metricdag-copies-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _transient_as_error_type(handle: Callable[..., dict]) -> Callable[..., dict]:
    """A transient failure leaves the handler as :class:`TransientPersistError` (its message kept)."""

    @functools.wraps(handle)
    def wrapper(event: dict, context: Any = None) -> dict:
        try:
            return handle(event, context)
        except TransientPersistError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise
            own = isinstance(exc, MetricdagError)  # its message is complete and scrubbed; its cause was cut
            raise TransientPersistError(str(exc) if own else describe(exc)) from (None if own else exc)

    return wrapper


@_transient_as_error_type
def handler(event: dict, context: Any = None) -> dict:
    """Load one Parquet file as one partition of a Snowflake table; returns ``PersistResult`` JSON."""
    started = time.monotonic()
    request = parse_request(event)
    env = load_environment(request.environment)
    if request.source_table is not None:
        return load_from_table(request, env, started)

    data = read_source(request, env)
    facts = parquet_facts(data, request.partition_column, dataset=request.dataset, source_uri=request.source_uri)
    check_partition_values(
        facts.partition_values,
        request.partition_value,
        dataset=request.dataset,
        source_uri=request.source_uri,
        partition_column=request.partition_column,
    )
    check_key_columns(facts.schema, request.key_columns, dataset=request.dataset, source_uri=request.source_uri)
    try:
        plan = plan_load(request, facts.schema, env, copy_uri=copy_location(request, env, data))
    except PersistError:
        raise
    except MetricdagError as exc:
        raise PersistError(f"dataset {request.dataset}: {exc}") from None

    store = audit_store_for(env)
    ledger = ledger_entry(store, env, request, plan, facts)

    try:
        with connect(env.snowflake, database=request.database) as conn:
            cursor = conn.cursor()
            outcome = wait_for_partition(lambda: load_once(cursor, plan, facts, ledger), plan)
    except WarehouseError as exc:
        raise PersistError(
            f"{plan.target.sql} partition {plan.partition}: loading {request.source_uri} failed "
            f"and was rolled back: {exc}",
            transient=exc.transient,
        ) from None

    return finish_load(store, env, request, plan, facts, ledger, outcome, started)


def finish_load(
    store: AuditStore | None, env: Environment, request: PersistRequest, plan: LoadPlan, facts: ParquetFacts,
    ledger: LedgerEntry | None, outcome: LoadOutcome, started: float,
) -> dict:
    """After the load transaction (of a file or a table): the result, its audit and ledger record,
    and (unless the partition already held the rows) the ``dataset_published`` event."""
    result = PersistResult(
        dataset=request.dataset,
        run_id=request.run_id,
        table=plan.target.sql,
        partition_column=request.partition_column.upper(),
        partition=request.partition_value,
        rows_loaded=outcome.rows,
        parquet_rows=facts.num_rows,
        source_uri=request.source,
        checksum=facts.checksum,
        seconds=round(time.monotonic() - started, 3),
        status=outcome.status,
        reason=outcome.reason,
    )
    if outcome.status == "already_loaded":
        log.info("%s partition %s already holds %s (run %s), as the table confirms: skipped",
                 plan.target.sql, plan.partition, facts.checksum, ledger.run_id if ledger else "?")
        record_load(store, env, request, result, outcome.fingerprint, ledger.run_id if ledger else None,
                    ledger.loaded_at if ledger else plan.loaded_at)
        return result.model_dump(mode="json")
    if outcome.reason:
        log.warning("%s partition %s reloaded: %s", plan.target.sql, plan.partition, outcome.reason)
    log.info("loaded %d rows into %s partition %s from %s", outcome.rows, plan.target.sql, plan.partition,
             request.source)
    record_load(store, env, request, result, outcome.fingerprint, request.run_id, plan.loaded_at)
    publish(env, request, result)
    return result.model_dump(mode="json")


def table_facts(cursor: Any, request: PersistRequest, load: TableLoad) -> ParquetFacts:
    """What a file's footer tells a file load, asked of the source table's partition: its rows and
    a checksum (of the table, partition, row count and row fingerprint: the same rows give the
    same checksum, so the ledger recognizes a partition that already holds them)."""
    source, value = load.source, request.partition_value
    execute(cursor, *_args(sql.table_columns(source)))
    present = {str(name).upper() for (name,) in cursor.fetchall()}
    if not present:
        raise PersistError(f"dataset {request.dataset}: source table {source.sql} does not exist")
    missing = [c for c in (*load.columns, request.source_partition_column or "") if c.upper() not in present]
    if missing:
        raise PersistError(f"dataset {request.dataset}: source table {source.sql} has no column(s) {', '.join(missing)}")
    check_key_columns_in(load.columns, request)
    execute(cursor, *_args(sql.partition_fingerprint(source, request.source_partition_column or "", value, list(load.columns))))
    rows, fingerprint = cursor.fetchone()
    checksum = sha256_hex(f"{source.sql}|{value.isoformat()}|{int(rows)}|{fingerprint}".encode())
    return ParquetFacts(schema=None, num_rows=int(rows), checksum=checksum, partition_values=[value])


def _args(statement: sql.Statement) -> tuple[str, tuple]:
    return statement.sql, statement.params


def check_key_columns_in(columns: Sequence[str], request: PersistRequest) -> None:
    missing = [k for k in request.key_columns if k.upper() not in {c.upper() for c in columns}]
    if missing:
        raise PersistError(f"dataset {request.dataset}: key column(s) {', '.join(missing)} are not among the copied "
                           f"columns of {request.source_table} ({', '.join(columns)})")


def load_from_table(request: PersistRequest, env: Environment, started: float) -> dict:
    """A table-to-table load: the source table's partition replaces the target's, inside the
    warehouse, in the same transaction, with the same ledger, audit and lineage records as a file."""
    try:
        load = table_load(request)
        plan = plan_load(request, None, env, load=load)
    except PersistError:
        raise
    except MetricdagError as exc:
        raise PersistError(f"dataset {request.dataset}: {exc}") from None
    store = audit_store_for(env)
    try:
        with connect(env.snowflake, database=request.database) as conn:
            cursor = conn.cursor()
            facts = table_facts(cursor, request, load)
            ledger = ledger_entry(store, env, request, plan, facts)
            outcome = wait_for_partition(lambda: load_once(cursor, plan, facts, ledger), plan)
    except WarehouseError as exc:
        raise PersistError(
            f"{plan.target.sql} partition {plan.partition}: loading from {request.source_table} failed "
            f"and was rolled back: {exc}",
            transient=exc.transient,
        ) from None
    return finish_load(store, env, request, plan, facts, ledger, outcome, started)


def load_once(cursor: Any, plan: LoadPlan, facts: ParquetFacts, ledger: LedgerEntry | None) -> LoadOutcome:
    """One attempt: the table (created when missing), then the load transaction."""
    table = ensure_table(cursor, plan)
    if table.created:
        log.info("created %s", plan.target.sql)
    return replace_partition(cursor, plan, facts.num_rows, table, ledger=ledger)


# ------------------------------------------------------------------- ledger, audit, publish


def ledger_entry(
    store: AuditStore | None, env: Environment, request: PersistRequest, plan: LoadPlan, facts: ParquetFacts
) -> LedgerEntry | None:
    """The partition's ledger entry when it says the partition holds exactly this file content
    (by checksum, so it holds even after Snowflake's load metadata has expired); the load
    transaction then checks the table agrees before it skips. None when the file must be loaded."""
    if store is None:
        return None
    last = store.last_load(env.name, plan.target.sql, request.partition_value.isoformat())
    return last if last is not None and last.checksum == facts.checksum else None


def publication(request: PersistRequest, rows_run_id: str, loaded_at: datetime) -> Publication:
    """The lineage of a load as the audit store records it."""
    return Publication(
        partition_column=request.partition_column.upper(),
        key_columns=[k.upper() for k in request.key_columns],
        metric_version=request.metric_version,
        node_versions=dict(request.node_versions),
        input_rows=dict(request.input_rows),
        review_results=[r.model_dump(mode="json") for r in request.review_results],
        loaded_at=loaded_at,
        rows_run_id=rows_run_id,
    )


def record_load(
    store: AuditStore | None, env: Environment, request: PersistRequest, result: PersistResult,
    fingerprint: str | None = None, rows_run_id: str | None = None, loaded_at: datetime | None = None,
) -> None:
    """The audit record (and, for a load, the ledger entry; for a metric's load, the publication
    record: ``rows_run_id`` loaded the rows the table holds, at ``loaded_at``). A failure here
    fails the call: the load is then retried (delete + copy is idempotent) rather than left unrecorded."""
    if store is None:
        return
    lineage = None
    if request.metric:
        lineage = publication(request, rows_run_id or request.run_id,
                              loaded_at or datetime.now(timezone.utc).replace(tzinfo=None))
    try:
        store.record_load(
            environment=env.name, metric=request.metric, dataset=request.dataset, table=result.table,
            partition=result.partition.isoformat(), rows=result.rows_loaded, checksum=result.checksum,
            run_id=request.run_id, status=result.status, catalog_versions=request.catalog_versions,
            fingerprint=fingerprint, detail=result.reason, publication=lineage,
        )
    except Exception as exc:
        raise PersistError(
            f"{result.table} partition {result.partition}: loaded, but the audit record could not be written: {exc}",
            transient=is_transient(exc),
        ) from None


def publish(env: Environment, request: PersistRequest, result: PersistResult) -> None:
    """Emit ``dataset_published``; a source that is down is a warning, never a failed load.
    A load into a backfill's staging schema publishes nothing (the backfill's publish does)."""
    from metricdag.persistence.publish import is_staging_schema

    if env.events is None or not request.publish or is_staging_schema(request.schema_name):
        return
    from metricdag.events.models import DATASET_PUBLISHED
    from metricdag.events.sources import emit

    payload = {"dataset": request.dataset, "table": result.table, "partition": result.partition.isoformat(),
               "date": result.partition.isoformat(), "rows": result.rows_loaded, "run_id": request.run_id}
    if request.metric:
        payload["metric"] = request.metric
    try:
        emit(env, DATASET_PUBLISHED, payload)
    except Exception as exc:
        log.warning("could not emit %s for %s %s: %s", DATASET_PUBLISHED, result.table, result.partition, exc)
