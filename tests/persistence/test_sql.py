"""The persister's SQL text: what Snowflake will be asked to run, and what is refused."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from metricdag.errors import MetricdagError
from metricdag.persistence import sql

TARGET = sql.TableRef("metricdag", "metrics", "net_sales_daily")
DAY = date(2024, 3, 1)
OPTIONS = "FILE_FORMAT=(TYPE=PARQUET) MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE"


def test_setup_statements_quote_and_upper_case_every_identifier():
    assert sql.create_database(TARGET).sql == 'CREATE DATABASE IF NOT EXISTS "METRICDAG"'
    assert sql.create_schema(TARGET).sql == 'CREATE SCHEMA IF NOT EXISTS "METRICDAG"."METRICS"'
    exists = sql.table_exists(TARGET)
    assert exists.sql == (
        'SELECT COUNT(*) FROM "METRICDAG".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?'
    )
    assert exists.params == ("METRICS", "NET_SALES_DAILY")


def test_create_table_takes_its_columns_from_the_parquet_schema():
    schema = pa.schema(
        [
            ("business_date", pa.date32()),
            ("store_id", pa.string()),
            ("net_sales", pa.decimal128(18, 2)),
            ("units", pa.int64()),
            ("share", pa.float64()),
            ("is_open", pa.bool_()),
            ("loaded_at", pa.timestamp("us")),
        ]
    )
    assert sql.create_table(TARGET, schema).sql == (
        'CREATE TABLE IF NOT EXISTS "METRICDAG"."METRICS"."NET_SALES_DAILY" ('
        '"BUSINESS_DATE" DATE, "STORE_ID" VARCHAR, "NET_SALES" NUMBER(18,2), "UNITS" NUMBER(38,0), '
        '"SHARE" FLOAT, "IS_OPEN" BOOLEAN, "LOADED_AT" TIMESTAMP_NTZ)'
    )


def test_create_table_refuses_columns_that_differ_only_in_case():
    schema = pa.schema([("Sales", pa.int64()), ("sales", pa.int64())])
    with pytest.raises(MetricdagError, match="'Sales' and 'sales'"):
        sql.create_table(TARGET, schema)


def test_create_table_refuses_a_column_name_that_is_not_an_identifier():
    schema = pa.schema([("net sales", pa.int64())])
    with pytest.raises(MetricdagError, match="'net sales'"):
        sql.create_table(TARGET, schema)


def test_the_partition_value_is_bound_never_pasted():
    delete = sql.delete_partition(TARGET, "business_date", DAY)
    count = sql.count_partition(TARGET, "business_date", DAY)

    assert delete.sql == 'DELETE FROM "METRICDAG"."METRICS"."NET_SALES_DAILY" WHERE "BUSINESS_DATE" = ?'
    assert count.sql == 'SELECT COUNT(*) FROM "METRICDAG"."METRICS"."NET_SALES_DAILY" WHERE "BUSINESS_DATE" = ?'
    assert delete.params == count.params == (DAY,)
    assert "2024" not in delete.sql + count.sql


def test_copy_from_a_local_file_names_its_folder_and_the_file():
    source = sql.copy_source("file:///data/objectstore/net_sales_daily/2024-03-01/part-ab12.parquet")

    assert sql.copy_into(TARGET, source).sql == (
        "COPY INTO \"METRICDAG\".\"METRICS\".\"NET_SALES_DAILY\" FROM 'file:///data/objectstore/net_sales_daily/"
        f"2024-03-01/' FILES=('part-ab12.parquet') {OPTIONS}"
    )


def test_copy_from_s3_through_the_configured_stage_uses_the_key_below_the_stage_root():
    source = sql.copy_source(
        "s3://metricdag-prod/metrics/net_sales/business_date=2024-03-01/part-1.parquet",
        stage="METRICS.PUBLIC.METRICDAG_STAGE",
        stage_root_uri="s3://metricdag-prod/metrics",
    )

    assert sql.copy_into(TARGET, source).sql == (
        'COPY INTO "METRICDAG"."METRICS"."NET_SALES_DAILY" FROM @"METRICS"."PUBLIC"."METRICDAG_STAGE"'
        f"/net_sales/business_date=2024-03-01/ FILES=('part-1.parquet') {OPTIONS}"
    )


def test_copy_from_s3_without_a_stage_reads_the_bucket_folder():
    source = sql.copy_source("s3://metricdag-dev/metrics/net_sales/part-1.parquet")

    assert source == sql.CopySource("'s3://metricdag-dev/metrics/net_sales/'", "part-1.parquet")


def test_a_file_outside_the_stage_root_is_refused():
    with pytest.raises(MetricdagError, match="not under 's3://metricdag-prod/metrics'"):
        sql.copy_source("s3://elsewhere/x/part-1.parquet", stage="STAGE", stage_root_uri="s3://metricdag-prod/metrics")


@pytest.mark.parametrize(
    "uri",
    [
        "file:///data/x/it's.parquet",
        "file:///data/x/a;DROP TABLE t.parquet",
        "file:///data/x/a b.parquet",
        "s3://bucket/folder/a'),('b.parquet",
    ],
)
def test_file_names_that_could_change_the_statement_are_refused(uri):
    with pytest.raises(MetricdagError, match="invalid file name"):
        sql.copy_source(uri)


@pytest.mark.parametrize(
    "uri",
    ["file:///data/it's here/a.parquet", "s3://bucket/o'brien/a.parquet", "file:///data/x;y/a.parquet"],
)
def test_folders_that_could_change_the_statement_are_refused(uri):
    with pytest.raises(MetricdagError, match="folder may only contain"):
        sql.copy_source(uri)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://example.com/a.parquet", "unsupported source"),
        ("file:///data/folder/", "names a folder"),
        ("s3://Bad_Bucket/a.parquet", "not a valid S3 bucket"),
    ],
)
def test_sources_the_persister_cannot_load_are_explained(uri, message):
    with pytest.raises(MetricdagError, match=message):
        sql.copy_source(uri)


def test_a_stage_name_must_be_plain_identifiers():
    with pytest.raises(MetricdagError, match="stage name part"):
        sql.copy_source("s3://b-1/m/a.parquet", stage='DB.PUBLIC."X"', stage_root_uri="s3://b-1/m")


@pytest.mark.parametrize(
    ("database", "schema", "table"),
    [('db"', "s", "t"), ("db", "s;", "t"), ("db", "s", "t t"), ("db", "s", "")],
)
def test_a_table_reference_validates_all_three_parts(database, schema, table):
    with pytest.raises(MetricdagError, match="invalid Snowflake"):
        sql.TableRef(database, schema, table)


def test_the_handler_plans_a_stage_copy_from_the_prod_environment(monkeypatch):
    from metricdag.persistence.handler import plan_load
    from metricdag.persistence.request import PersistRequest
    from metricdag.settings import load_environment

    for name in ("METRICDAG_BUCKET", "SNOWFLAKE_STAGE"):
        monkeypatch.delenv(name, raising=False)
    env = load_environment("prod")
    request = PersistRequest(
        environment="prod",
        dataset="net_sales_daily",
        database="metrics",
        schema="reporting",
        table="net_sales_daily",
        source_uri="s3://metricdag-prod/metrics/net_sales_daily/2024-03-01/part-run1-a1.parquet",
        partition_column="business_date",
        partition_value=DAY,
        run_id="run1",
    )

    plan = plan_load(request, pa.schema([("business_date", pa.date32()), ("net_sales", pa.float64())]), env)

    assert plan.copy.sql == (
        'COPY INTO "METRICS"."REPORTING"."NET_SALES_DAILY" FROM @"METRICS"."PUBLIC"."METRICDAG_STAGE"'
        f"/net_sales_daily/2024-03-01/ FILES=('part-run1-a1.parquet') {OPTIONS}"
    )
    assert plan.delete.params == (DAY,) and plan.partition == "BUSINESS_DATE=2024-03-01"
