"""The persister's load ledger, audit records and ``dataset_published`` events."""

from __future__ import annotations

import pandas as pd
import pytest

from metricdag.audit.store import audit_store_for
from metricdag.events.sources import source_for
from metricdag.io.objectstore import sha256_hex
from metricdag.persistence.handler import handler
from metricdag.persistence.request import PersistError
from tests.persistence.test_handler import DAY1, as_rows, event, rows, sales, table, write_parquet  # noqa: F401


def ledger(env, table_name: str):
    return audit_store_for(env).last_load(env.name, f'"METRICDAG"."METRICS"."{table_name.upper()}"', DAY1.isoformat())


def test_the_same_content_is_not_loaded_twice_even_when_snowflake_would_load_it(env, objectstore_dir, table):
    frame = sales(DAY1, {"berlin": 1.0, "paris": 2.0})
    first = handler(event(table, write_parquet(objectstore_dir, frame), DAY1, catalog_versions={"pos": "1.2.0"}))
    # a new file name with the same content: Snowflake's load metadata cannot recognise it
    again = handler(event(table, write_parquet(objectstore_dir, frame), DAY1))

    assert (first["status"], again["status"]) == ("loaded", "already_loaded")
    assert again["rows_loaded"] == 2 and again["checksum"] == first["checksum"]
    assert rows(env, table) == as_rows(frame)
    assert ledger(env, table).run_id == first["run_id"]
    loads = [r for r in audit_store_for(env).query(date=DAY1.isoformat()) if r.kind == "load" and table.upper() in r.detail]
    assert [r.status for r in loads] == ["loaded", "already_loaded"]
    assert "versions=pos@1.2.0" in loads[0].detail


def test_the_same_file_after_snowflake_forgot_it_is_skipped_not_loaded_again(env, objectstore_dir, table):
    """A fresh table has no load history (as after Snowflake's 64-day load metadata expired)."""
    uri = write_parquet(objectstore_dir, sales(DAY1, {"berlin": 1.0}))
    handler(event(table, uri, DAY1))
    assert handler(event(table, uri, DAY1))["status"] == "already_loaded"  # without the ledger: LOAD_SKIPPED error


def test_content_the_partition_no_longer_holds_is_loaded_again(env, objectstore_dir, table):
    a, b = sales(DAY1, {"berlin": 1.0}), sales(DAY1, {"paris": 2.0})
    handler(event(table, write_parquet(objectstore_dir, a), DAY1))
    handler(event(table, write_parquet(objectstore_dir, b), DAY1))
    result = handler(event(table, write_parquet(objectstore_dir, a), DAY1))
    assert result["status"] == "loaded" and rows(env, table) == as_rows(a)


def test_a_refused_load_is_not_recorded_as_loaded(env, objectstore_dir, table):
    good = sales(DAY1, {"berlin": 1.0})
    good_uri = write_parquet(objectstore_dir, good)
    handler(event(table, good_uri, DAY1))
    stray = pd.concat([sales(DAY1, {"rome": 3.0}).assign(units=["x"])], ignore_index=True)  # text in a NUMBER column
    with pytest.raises(PersistError):
        handler(event(table, write_parquet(objectstore_dir, stray), DAY1))
    assert ledger(env, table).checksum == sha256_hex(open(good_uri[len("file://") :], "rb").read())


def test_a_load_publishes_dataset_published_on_the_local_inbox(env, objectstore_dir, table):
    source = source_for(env)
    _, cursor = source.poll(None, 100_000)
    result = handler(event(table, write_parquet(objectstore_dir, sales(DAY1, {"oslo": 4.0})), DAY1))

    events, _ = source.poll(cursor, 100)
    published = [e for e in events if e.type == "dataset_published" and e.payload["table"] == result["table"]]
    assert [e.payload for e in published] == [{
        "dataset": "net_sales_daily", "table": result["table"], "partition": "2024-03-01", "date": "2024-03-01",
        "rows": 1, "run_id": result["run_id"],
    }]
