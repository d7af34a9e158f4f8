"""Every persisted row says which metric version and which run loaded it, and when; the audit
store's publication record says what produced the partition."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pandas as pd

from metricdag.audit.store import audit_store_for
from metricdag.persistence.handler import handler
from metricdag.warehouse import run_query
from tests.persistence.test_handler import event, rows, sales, table, write_parquet  # noqa: F401 (table: a fixture)

DAY = date(2024, 3, 5)


def lineage_event(table: str, uri: str, **overrides: object) -> dict:
    lineage = dict(
        metric="daily_net_sales", metric_version="abc123def456",
        node_versions={"net_sales": "n1"}, input_rows={"pos_transactions": 2000, "fx_rates": 5},
        catalog_versions={"pos_transactions": "1.0.0", "fx_rates": "1.1.0"},
        review_results=[{"check": "record_count", "passed": True, "severity": "ERROR", "description": "3 rows"}],
    )
    return event(table, uri, DAY, **{**lineage, **overrides})


def metadata(env, table: str, name: str = "") -> list[tuple]:
    _, result = run_query(
        env.snowflake,
        f'SELECT "STORE", "_METRIC_VERSION", "_RUN_ID", "_LOADED_AT" FROM "METRICDAG"."METRICS"."{table.upper()}{name}" '
        'ORDER BY "_LOADED_AT", "STORE"',
    )
    return result


def test_loaded_rows_carry_the_metric_version_run_id_and_load_time(env, objectstore_dir, table):
    before = datetime.utcnow() - timedelta(seconds=1)
    request = lineage_event(table, write_parquet(objectstore_dir, sales(DAY, {"berlin": 1.0, "paris": 2.0})))
    handler(request)

    stamped = metadata(env, table)
    assert [(s, v, r) for s, v, r, _ in stamped] == [
        ("berlin", "abc123def456", request["run_id"]), ("paris", "abc123def456", request["run_id"])
    ]
    assert all(before <= at <= datetime.utcnow() + timedelta(seconds=1) for *_, at in stamped)

    (pub,) = audit_store_for(env).publications(env.name, "daily_net_sales", run_id=request["run_id"])
    assert (pub.metric_version, pub.partition, pub.rows, pub.status) == ("abc123def456", DAY.isoformat(), 2, "loaded")
    assert pub.node_versions == {"net_sales": "n1"}
    assert pub.input_rows == {"pos_transactions": 2000, "fx_rates": 5}
    assert pub.catalog_versions == {"pos_transactions": "1.0.0", "fx_rates": "1.1.0"}
    assert pub.review_results[0]["check"] == "record_count" and pub.review_results[0]["passed"] is True
    assert (pub.key_columns, pub.partition_column, pub.rows_run_id) == (["STORE"], "SALES_DATE", request["run_id"])
    assert pub.loaded_at == stamped[0][3]


def test_history_keeps_what_each_load_published(env, objectstore_dir, table):
    first = lineage_event(table, write_parquet(objectstore_dir, sales(DAY, {"berlin": 1.0, "paris": 2.0})))
    second = lineage_event(table, write_parquet(objectstore_dir, sales(DAY, {"berlin": 5.0})), metric_version="v2")
    handler(first)
    handler(second)

    assert [(s, v, r) for s, v, r, _ in metadata(env, table)] == [("berlin", "v2", second["run_id"])]
    history = [(s, v, r) for s, v, r, _ in metadata(env, table, "__HISTORY")]
    assert history == [
        ("berlin", "abc123def456", first["run_id"]), ("paris", "abc123def456", first["run_id"]),
        ("berlin", "v2", second["run_id"]),
    ]


def test_a_table_from_before_the_metadata_columns_gains_them(env, objectstore_dir):
    table = "old_sales_" + uuid.uuid4().hex[:8]
    run_query(env.snowflake, "CREATE SCHEMA IF NOT EXISTS METRICDAG.METRICS")
    run_query(env.snowflake, f'CREATE TABLE "METRICDAG"."METRICS"."{table.upper()}" '
                             '("SALES_DATE" DATE, "STORE" VARCHAR, "NET_SALES" FLOAT, "UNITS" NUMBER(38,0))')
    run_query(env.snowflake, f'INSERT INTO "METRICDAG"."METRICS"."{table.upper()}" VALUES (?, ?, ?, ?)',
              (date(2024, 3, 4), "oslo", 3.0, 3))

    request = lineage_event(table, write_parquet(objectstore_dir, sales(DAY, {"rome": 4.0})))
    handler(request)

    assert rows(env, table) == [(date(2024, 3, 4), "oslo", 3.0, 3), (DAY, "rome", 4.0, 4)]
    stamped = {s: (v, r) for s, v, r, _ in metadata(env, table)}
    assert stamped == {"oslo": (None, None), "rome": ("abc123def456", request["run_id"])}


def test_a_file_with_a_reserved_metadata_column_is_refused(env, objectstore_dir, table):
    frame = sales(DAY, {"rome": 4.0}).assign(_run_id="mine")
    try:
        handler(lineage_event(table, write_parquet(objectstore_dir, frame)))
    except Exception as exc:
        assert "_run_id" in str(exc) and "reserves" in str(exc)
    else:
        raise AssertionError("a file with a _RUN_ID column was loaded")
    _, exists = run_query(env.snowflake, "SELECT COUNT(*) FROM METRICDAG.INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = ?",
                          (table.upper(),))
    assert exists == [(0,)]


def test_a_load_that_is_not_a_metrics_keeps_no_history(env, objectstore_dir, table):
    handler(event(table, write_parquet(objectstore_dir, sales(DAY, {"rome": 4.0})), DAY))  # e.g. raw data, no metric
    assert [(s, v) for s, v, _, _ in metadata(env, table)] == [("rome", None)]
    _, exists = run_query(env.snowflake, "SELECT COUNT(*) FROM METRICDAG.INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = ?",
                          (table.upper() + "__HISTORY",))
    assert exists == [(0,)]


def test_only_missing_metadata_columns_are_added_and_table_names_round_trip():
    from metricdag.persistence import sql

    target = sql.TableRef("metricdag", "metrics", "net_sales_daily")
    assert [s.sql for s in sql.add_metadata_columns(target, {"STORE", "_METRIC_VERSION"})] == [
        'ALTER TABLE "METRICDAG"."METRICS"."NET_SALES_DAILY" ADD COLUMN IF NOT EXISTS "_RUN_ID" VARCHAR',
        'ALTER TABLE "METRICDAG"."METRICS"."NET_SALES_DAILY" ADD COLUMN IF NOT EXISTS "_LOADED_AT" TIMESTAMP_NTZ',
    ]
    assert sql.add_metadata_columns(target, {"_METRIC_VERSION", "_RUN_ID", "_LOADED_AT"}) == ()
    assert sql.parse_table(target.sql) == sql.TableRef("METRICDAG", "METRICS", "NET_SALES_DAILY")
    assert sql.history_table(target).sql == '"METRICDAG"."METRICS"."NET_SALES_DAILY__HISTORY"'
    for bad in ('"A"."B"', '"A"."B"."C; DROP TABLE X"', "A.B.C"):
        try:
            sql.parse_table(bad)
        except Exception as exc:
            assert "table" in str(exc).lower()
        else:
            raise AssertionError(f"{bad!r} was accepted")
