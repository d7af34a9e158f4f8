"""The load ledger is checked against the table before a load is skipped: rows that are gone,
a dropped table or changed values are loaded again, and the audit record says why."""

from __future__ import annotations

import pytest

from metricdag.audit.models import LedgerEntry
from metricdag.audit.store import audit_store_for
from metricdag.persistence.handler import PartitionState, handler, ledger_mismatch
from metricdag.settings import Environment
from metricdag.warehouse import run_query
from tests.persistence.conftest import qualified
from tests.persistence.test_handler import DAY1, as_rows, event, rows, sales, table, write_parquet  # noqa: F401

pytestmark = pytest.mark.stack

STORES = {"berlin": 1.0, "paris": 2.0, "rome": 3.0}


def load_records(env: Environment, table_name: str):
    return [
        r for r in audit_store_for(env).query(date=DAY1.isoformat())
        if r.kind == "load" and qualified(table_name) in r.detail
    ]


def test_an_intact_partition_is_still_skipped(seeded_env, objectstore, table):
    frame = sales(DAY1, STORES)
    handler(event(table, write_parquet(objectstore, frame), DAY1))

    again = handler(event(table, write_parquet(objectstore, frame), DAY1))

    assert again["status"] == "already_loaded" and again["reason"] is None
    assert rows(seeded_env, table) == as_rows(frame)


def test_rows_deleted_behind_the_ledgers_back_are_loaded_again_and_the_audit_says_why(seeded_env, objectstore, table):
    frame = sales(DAY1, STORES)
    handler(event(table, write_parquet(objectstore, frame), DAY1))
    run_query(seeded_env.snowflake, f'DELETE FROM {qualified(table)} WHERE "SALES_DATE" = ?', (DAY1,))

    again = handler(event(table, write_parquet(objectstore, frame), DAY1))

    assert (again["status"], again["rows_loaded"]) == ("reloaded", 3)
    assert again["reason"] == "table had 0 rows, ledger said 3"
    assert rows(seeded_env, table) == as_rows(frame)
    records = load_records(seeded_env, table)
    assert [r.status for r in records] == ["loaded", "reloaded"]
    assert records[-1].detail.endswith("(table had 0 rows, ledger said 3)")
    # the reload is the ledger's new entry: the next run with the same content is skipped again
    assert handler(event(table, write_parquet(objectstore, frame), DAY1))["status"] == "already_loaded"


def test_the_same_file_is_reloaded_even_though_snowflake_remembers_loading_it(seeded_env, objectstore, table):
    uri = write_parquet(objectstore, sales(DAY1, STORES))
    handler(event(table, uri, DAY1))
    run_query(seeded_env.snowflake, f"DELETE FROM {qualified(table)}")

    again = handler(event(table, uri, DAY1))  # without FORCE: LOAD_SKIPPED

    assert again["status"] == "reloaded" and len(rows(seeded_env, table)) == 3


def test_a_dropped_table_is_created_and_reloaded(seeded_env, objectstore, table):
    frame = sales(DAY1, STORES)
    handler(event(table, write_parquet(objectstore, frame), DAY1))
    run_query(seeded_env.snowflake, f"DROP TABLE {qualified(table)}")

    again = handler(event(table, write_parquet(objectstore, frame), DAY1))

    assert again["status"] == "reloaded"
    assert again["reason"] == "table did not exist, ledger said 3 rows"
    assert rows(seeded_env, table) == as_rows(frame)
    assert load_records(seeded_env, table)[-1].status == "reloaded"


def test_a_value_changed_by_hand_is_put_back(seeded_env, objectstore, table):
    frame = sales(DAY1, STORES)
    handler(event(table, write_parquet(objectstore, frame), DAY1))
    run_query(seeded_env.snowflake, f"UPDATE {qualified(table)} SET \"NET_SALES\" = 0 WHERE \"STORE\" = 'paris'")

    again = handler(event(table, write_parquet(objectstore, frame), DAY1))

    assert again["status"] == "reloaded" and "are not the rows" in again["reason"]
    assert rows(seeded_env, table) == as_rows(frame)


def test_extra_rows_in_the_partition_are_replaced(seeded_env, objectstore, table):
    frame = sales(DAY1, STORES)
    handler(event(table, write_parquet(objectstore, frame), DAY1))
    run_query(seeded_env.snowflake, f'INSERT INTO {qualified(table)} ("SALES_DATE", "STORE", "NET_SALES", "UNITS") VALUES (?, \'oslo\', 4.0, 4)', (DAY1,))

    again = handler(event(table, write_parquet(objectstore, frame), DAY1))

    assert again["reason"] == "table had 4 rows, ledger said 3"
    assert rows(seeded_env, table) == as_rows(frame)


# -------------------------------------------------------------------------- the comparison


def entry(rows: int, fingerprint: str | None) -> LedgerEntry:
    return LedgerEntry(rows=rows, fingerprint=fingerprint, run_id="run-1")


def test_a_ledger_entry_without_a_fingerprint_is_not_trusted():
    """Entries written before fingerprints existed: the partition is loaded once more."""
    reason = ledger_mismatch(entry(18, None), PartitionState(18, "123"))
    assert reason is not None and "no fingerprint" in reason


def test_matching_count_and_fingerprint_is_no_mismatch():
    assert ledger_mismatch(entry(18, "123"), PartitionState(18, "123")) is None


def test_a_file_with_a_column_the_table_lacks_still_loads_and_is_verified(seeded_env, objectstore, table):
    """COPY ignores a file column the table does not have; so does the fingerprint."""
    handler(event(table, write_parquet(objectstore, sales(DAY1, {"berlin": 1.0})), DAY1))
    wider = sales(DAY1, STORES).assign(region=["north", "south", "east"])

    first = handler(event(table, write_parquet(objectstore, wider), DAY1))
    again = handler(event(table, write_parquet(objectstore, wider), DAY1))

    assert (first["status"], again["status"]) == ("loaded", "already_loaded")
    assert rows(seeded_env, table) == as_rows(sales(DAY1, STORES))
