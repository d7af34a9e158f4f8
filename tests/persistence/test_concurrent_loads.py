"""Loads of one partition that overlap: a killed client does not block the table, concurrent
loads end with exactly one copy, and a partition held too long is a clear, transient error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from metricdag.persistence import handler as handler_module
from metricdag.persistence.handler import begin_locked, ensure_table, handler, plan_load
from metricdag.persistence.request import PartitionBusyError, PersistError, PersistRequest
from metricdag.retries import is_transient
from metricdag.warehouse import connect, run_query
from metricdag_localstack.snowflake_server import IDLE_TRANSACTION_TIMEOUT_S
from tests.persistence.conftest import qualified
from tests.persistence.test_handler import DAY1, DAY2, as_rows, event, rows, sales, table, write_parquet  # noqa: F401

pytestmark = pytest.mark.stack

LOADERS = 6
STORES = {"berlin": 1.0, "paris": 2.0, "rome": 3.0}


HOLDER = textwrap.dedent(
    """
    import sys, time
    from metricdag.settings import load_environment
    from metricdag.warehouse import connect

    env = load_environment("local")
    conn = connect(env.snowflake, database="METRICDAG")
    cursor = conn.cursor()
    cursor.execute("BEGIN")
    cursor.execute(sys.argv[1])
    print("holding", flush=True)
    time.sleep(600)
    """
)


def test_a_load_killed_inside_its_transaction_does_not_block_the_next_load(seeded_env, objectstore, table):
    handler(event(table, write_parquet(objectstore, sales(DAY1, STORES)), DAY1))
    # a client that dies between its DELETE and its COMMIT, as a killed persister does
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"DELETE FROM {qualified(table)} WHERE \"SALES_DATE\" = '{DAY1}'"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
    finally:
        holder.kill()
        holder.wait()

    started = time.monotonic()
    second = sales(DAY1, {"oslo": 4.0, "madrid": 5.0})
    result = handler(event(table, write_parquet(objectstore, second), DAY1))
    waited = time.monotonic() - started

    assert result["status"] == "loaded"
    assert rows(seeded_env, table) == as_rows(second)
    assert waited < IDLE_TRANSACTION_TIMEOUT_S + 10, f"the next load waited {waited:.0f} s"


def test_concurrent_loads_of_one_partition_leave_exactly_one_copy(seeded_env, objectstore, table):
    """A partition that is empty so far: without a lock, loaders that overlap each delete nothing
    and insert their own copy."""
    handler(event(table, write_parquet(objectstore, sales(DAY2, STORES)), DAY2))  # the table exists
    frames = [sales(DAY1, {f"store{i}": float(i), "berlin": float(i)}) for i in range(LOADERS)]
    uris = [write_parquet(objectstore, f) for f in frames]

    def load(uri: str):
        try:
            return handler(event(table, uri, DAY1))
        except PersistError as exc:
            return exc

    with ThreadPoolExecutor(LOADERS) as pool:
        outcomes = list(pool.map(load, uris))

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(e, PartitionBusyError) for e in errors), [str(e) for e in errors]
    assert not any("500" in str(e) for e in errors)
    assert len(errors) < LOADERS
    held = rows(seeded_env, table, DAY1)
    assert len(held) == 2 and held in [as_rows(f) for f in frames]  # one loader's rows, once


def test_a_load_that_overlaps_another_waits_for_it_and_replaces_its_rows(seeded_env, objectstore, table):
    """Deterministic overlap: a first load has copied its rows but not committed yet when the
    second one starts; the second waits, then deletes the first one's rows and loads its own."""
    handler(event(table, write_parquet(objectstore, sales(DAY2, STORES)), DAY2))  # the table exists
    first, second = sales(DAY1, {"berlin": 1.0, "paris": 2.0}), sales(DAY1, {"oslo": 4.0})
    first_event = event(table, write_parquet(objectstore, first), DAY1)
    plan = plan_load(PersistRequest.model_validate(first_event), pa.Schema.from_pandas(first, preserve_index=False),
                     seeded_env)
    with connect(seeded_env.snowflake, database="METRICDAG") as conn:
        cursor = conn.cursor()
        ensure_table(cursor, plan)
        begin_locked(cursor, plan)  # the first load of this partition, mid-way
        for statement in (plan.delete, plan.copy):
            cursor.execute(statement.sql, statement.params)
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(handler, event(table, write_parquet(objectstore, second), DAY1))
            time.sleep(2)
            assert not later.done(), later.result()  # it waits for the first load
            cursor.execute("COMMIT")
            result = later.result(timeout=60)

    assert result["status"] == "loaded"
    assert rows(seeded_env, table, DAY1) == as_rows(second)


def test_each_partition_has_one_lock_row_naming_its_last_load(seeded_env, objectstore, table):
    """The first load of a partition creates its lock row; later loads take it without another."""
    loads = [(DAY1, {"berlin": 1.0}), (DAY1, {"paris": 2.0}), (DAY2, {"rome": 3.0}), (DAY1, {"oslo": 4.0})]
    run_ids = {}
    for day, stores in loads:
        result = handler(event(table, write_parquet(objectstore, sales(day, stores)), day))
        assert result["status"] == "loaded"
        run_ids[day] = result["run_id"]

    _, locks = run_query(
        seeded_env.snowflake,
        'SELECT "PARTITION_VALUE", "RUN_ID" FROM "METRICDAG"."METRICS"."METRICDAG_LOAD_LOCKS" '
        'WHERE "TABLE_NAME" = ? ORDER BY "PARTITION_VALUE"',
        (table.upper(),),
    )
    assert locks == [(DAY1, run_ids[DAY1]), (DAY2, run_ids[DAY2])]
    assert rows(seeded_env, table, DAY1) == as_rows(sales(DAY1, {"oslo": 4.0}))


def test_a_partition_held_too_long_is_a_clear_transient_error(seeded_env, objectstore, table, monkeypatch):
    handler(event(table, write_parquet(objectstore, sales(DAY1, STORES)), DAY1))
    monkeypatch.setattr(handler_module, "LOCK_WAIT_S", 2.0)
    with connect(seeded_env.snowflake, database="METRICDAG") as conn:  # a live load, mid-transaction
        cursor = conn.cursor()
        cursor.execute("BEGIN")
        cursor.execute(f"DELETE FROM {qualified(table)} WHERE \"SALES_DATE\" = ?", (DAY1,))
        started = time.monotonic()
        with pytest.raises(PartitionBusyError) as caught:
            handler(event(table, write_parquet(objectstore, sales(DAY1, {"oslo": 4.0})), DAY1))
        waited = time.monotonic() - started
        cursor.execute("ROLLBACK")

    message = str(caught.value)
    assert f"another load of {qualified(table)} partition SALES_DATE={DAY1} is in progress" in message
    assert "500" not in message and is_transient(caught.value)
    assert waited < 10
    assert rows(seeded_env, table) == as_rows(sales(DAY1, STORES))


def test_a_client_that_closes_inside_a_transaction_leaves_nothing_locked(seeded_env, objectstore, table):
    handler(event(table, write_parquet(objectstore, sales(DAY1, STORES)), DAY1))
    conn = connect(seeded_env.snowflake, database="METRICDAG")
    cursor = conn.cursor()
    cursor.execute("BEGIN")
    cursor.execute(f"DELETE FROM {qualified(table)} WHERE \"SALES_DATE\" = ?", (DAY1,))
    conn.close()  # without COMMIT: Snowflake rolls the transaction back

    started = time.monotonic()
    assert rows(seeded_env, table) == as_rows(sales(DAY1, STORES))
    handler(event(table, write_parquet(objectstore, sales(DAY1, {"oslo": 4.0})), DAY1))
    assert time.monotonic() - started < 5
    _, count = run_query(seeded_env.snowflake, f"SELECT COUNT(*) FROM {qualified(table)}")
    assert count == [(1,)]
