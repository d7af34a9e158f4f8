"""Identifier safety, the Arrow/pandas -> Snowflake type map and connection errors.

Queries against a live server are covered in tests/persistence (which starts one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from metricdag.errors import MetricdagError
from metricdag.settings import SnowflakeSettings
from metricdag.warehouse import (
    WarehouseError,
    connect,
    qualified_name,
    quote_identifier,
    scrub,
    snowflake_columns,
    snowflake_type,
    validate_identifier,
)
from metricdag_localstack.processes import free_port


@pytest.mark.parametrize("name", ["net_sales", "NET_SALES", "_tmp", "a1$b", "x" * 255])
def test_plain_identifiers_are_accepted_unchanged(name):
    assert validate_identifier(name) == name


@pytest.mark.parametrize(
    "name",
    [
        'net"sales',
        "net_sales; DROP TABLE t",
        "net sales",
        "db.schema",
        "1st_day",
        "$price",
        "",
        "x" * 256,
        "caf\u00e9",
        "a\nb",
    ],
)
def test_identifiers_that_are_not_plain_are_rejected_and_named(name):
    with pytest.raises(MetricdagError) as caught:
        validate_identifier(name, "table")
    assert "invalid Snowflake table" in str(caught.value)
    assert repr(name if len(name) <= 80 else name[:80] + "...") in str(caught.value)


def test_quoting_upper_cases_like_snowflake_does_for_unquoted_names():
    assert quote_identifier("net_sales") == '"NET_SALES"'
    assert qualified_name("metricdag", "metrics", "net_sales_daily") == '"METRICDAG"."METRICS"."NET_SALES_DAILY"'


def test_quoting_refuses_what_it_cannot_make_safe():
    with pytest.raises(MetricdagError, match="schema"):
        qualified_name("db", 'public"; --', "t")


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int8(), "NUMBER(38,0)"),
        (pa.int64(), "NUMBER(38,0)"),
        (pa.uint32(), "NUMBER(38,0)"),
        (pa.float32(), "FLOAT"),
        (pa.float64(), "FLOAT"),
        (pa.decimal128(18, 2), "NUMBER(18,2)"),
        (pa.decimal128(38, 0), "NUMBER(38,0)"),
        (pa.string(), "VARCHAR"),
        (pa.large_string(), "VARCHAR"),
        (pa.bool_(), "BOOLEAN"),
        (pa.date32(), "DATE"),
        (pa.timestamp("us"), "TIMESTAMP_NTZ"),
        (pa.timestamp("ns"), "TIMESTAMP_NTZ"),
        (pa.timestamp("us", tz="UTC"), "TIMESTAMP_TZ"),
    ],
)
def test_arrow_types_map_to_snowflake_types(arrow_type, expected):
    assert snowflake_type(arrow_type, "c") == expected


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.dtype("int64"), "NUMBER(38,0)"),
        (np.dtype("float64"), "FLOAT"),
        (np.dtype("bool"), "BOOLEAN"),
        (pd.Int64Dtype(), "NUMBER(38,0)"),
        (pd.StringDtype(), "VARCHAR"),
        (np.dtype("datetime64[ns]"), "TIMESTAMP_NTZ"),
        (pd.ArrowDtype(pa.date32()), "DATE"),
    ],
)
def test_pandas_dtypes_map_to_snowflake_types(dtype, expected):
    assert snowflake_type(dtype, "c") == expected


@pytest.mark.parametrize(
    "arrow_type", [pa.binary(), pa.list_(pa.int64()), pa.decimal256(50, 2), pa.null(), pa.time64("us")]
)
def test_unmapped_types_are_an_error_naming_the_column(arrow_type):
    with pytest.raises(MetricdagError, match=r"column 'store_tags' has type .* no Snowflake mapping"):
        snowflake_type(arrow_type, "store_tags")


def test_columns_of_a_schema_are_quoted_and_typed():
    schema = pa.schema([("store_id", pa.string()), ("units", pa.int32())])
    assert snowflake_columns(schema) == [('"STORE_ID"', "VARCHAR"), ('"UNITS"', "NUMBER(38,0)")]


def test_scrub_removes_every_occurrence_of_the_secret():
    assert scrub("login pw=s3cr3t failed (s3cr3t)", "s3cr3t") == "login pw=*** failed (***)"
    assert scrub("nothing to hide", None) == "nothing to hide"


def local_settings(port: int) -> SnowflakeSettings:
    return SnowflakeSettings(
        account="fakesnow",
        user="metricdag",
        password_env="METRICDAG_TEST_SNOWFLAKE_PASSWORD",
        database="METRICDAG",
        host="127.0.0.1",
        port=port,
        protocol="http",
        login_timeout_s=1,
    )


def test_a_failed_connection_names_where_and_who_but_not_the_password(monkeypatch):
    monkeypatch.setenv("METRICDAG_TEST_SNOWFLAKE_PASSWORD", "pw-do-not-print-7f3a")
    port = free_port()  # nothing listens here

    with pytest.raises(WarehouseError) as caught:
        connect(local_settings(port))

    assert f"127.0.0.1:{port}" in str(caught.value) and "metricdag" in str(caught.value)
    assert "pw-do-not-print-7f3a" not in str(caught.value)


def test_a_bad_database_override_is_refused_before_connecting(monkeypatch):
    monkeypatch.setenv("METRICDAG_TEST_SNOWFLAKE_PASSWORD", "pw")
    # nothing listens on the port: reaching the network would fail differently (WarehouseError)
    with pytest.raises(MetricdagError, match="invalid Snowflake database 'x; DROP DATABASE y'") as caught:
        connect(local_settings(free_port()), database="x; DROP DATABASE y")
    assert not isinstance(caught.value, WarehouseError)
