"""The publish transaction (metricdag.persistence.publish): SQL shape, and all-or-nothing
against the local Snowflake."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from metricdag.errors import MetricdagError
from metricdag.persistence import publish
from metricdag.persistence.publish import PublishError, PublishTarget, publish_range, staging_schema
from metricdag.persistence.sql import TableRef
from metricdag.warehouse import run_query

D1, D2, D3 = date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3)


def test_staging_schema_names():
    assert staging_schema("metrics", "1A2b") == "METRICS__STAGING_1A2B"
    assert publish.is_staging_schema("METRICS__STAGING_1A2B") and not publish.is_staging_schema("METRICS")
    for bad in ("x;drop", "", "a b", "ä"):
        with pytest.raises(MetricdagError, match="invalid staging id"):
            staging_schema("METRICS", bad)


def test_only_staging_schemas_are_ever_dropped():
    assert "CASCADE" in publish.drop_schema("DB", "M__STAGING_X").sql
    with pytest.raises(MetricdagError, match="not a staging schema"):
        publish.drop_schema("DB", "METRICS")


def test_insert_copies_columns_by_name_and_binds_the_days():
    prod, staging = TableRef("DB", "M", "T"), TableRef("DB", "M__STAGING_X", "T")
    statement = publish.insert_from(prod, staging, "business_date", [D1, D2], ["A", "B"])
    assert statement.sql == (
        'INSERT INTO "DB"."M"."T" ("A", "B") SELECT "A", "B" FROM "DB"."M__STAGING_X"."T" '
        'WHERE "BUSINESS_DATE" IN (?, ?)'
    )
    assert statement.params == (D1, D2)


def _exec(env, *statements: str) -> None:
    for s in statements:
        run_query(env.snowflake, s)


def _rows(env, table: str) -> list[tuple]:
    return sorted(tuple(r) for r in run_query(env.snowflake, f"SELECT * FROM {table}")[1])


@pytest.mark.stack
def test_a_failure_in_one_table_rolls_back_every_table(stack_env):
    env = stack_env
    schema = "PUB_" + uuid.uuid4().hex[:6].upper()
    stage = staging_schema(schema, "T1")
    db = env.snowflake.database
    _exec(
        env,
        f"CREATE SCHEMA IF NOT EXISTS {db}.{schema}",
        f"CREATE SCHEMA IF NOT EXISTS {db}.{stage}",
        f"CREATE TABLE {db}.{schema}.A (BUSINESS_DATE DATE, V FLOAT)",
        f"INSERT INTO {db}.{schema}.A VALUES ('2024-06-01', 1.0), ('2024-06-02', 2.0)",
        f"CREATE TABLE {db}.{stage}.A (BUSINESS_DATE DATE, V FLOAT, EXTRA VARCHAR)",
        f"INSERT INTO {db}.{stage}.A VALUES ('2024-06-01', 10.0, 'x'), ('2024-06-02', 20.0, 'x'), ('2024-06-03', 30.0, 'x')",
        # B's production column has a type the staged text cannot be converted to: its INSERT fails
        f"CREATE TABLE {db}.{schema}.B (BUSINESS_DATE DATE, V DATE)",
        f"CREATE TABLE {db}.{stage}.B (BUSINESS_DATE DATE, V VARCHAR)",
        f"INSERT INTO {db}.{stage}.B VALUES ('2024-06-01', 'not a date')",
    )
    before = _rows(env, f"{db}.{schema}.A")

    def target(name: str) -> PublishTarget:
        return PublishTarget(name, TableRef(db, schema, name), TableRef(db, stage, name), "business_date")

    with pytest.raises(PublishError, match="rolled back"):
        publish_range(env.snowflake, [target("A"), target("B")], [D1, D2, D3], "run-1")
    assert _rows(env, f"{db}.{schema}.A") == before

    # without B, A's range is published: columns by name (EXTRA is not in production), and a
    # second publish of the same staging leaves every partition alone
    (published,) = publish_range(env.snowflake, [target("A")], [D1, D2, D3], "run-2")
    assert [p.changed for p in published.partitions] == [True, True, True]
    assert _rows(env, f"{db}.{schema}.A") == [(D1, 10.0), (D2, 20.0), (D3, 30.0)]
    (again,) = publish_range(env.snowflake, [target("A")], [D1, D2, D3], "run-3")
    assert not again.changed

    # a production table that does not exist yet is created like the staging table
    (created,) = publish_range(
        env.snowflake, [PublishTarget("A", TableRef(db, schema, "A_NEW"), TableRef(db, stage, "A"), "business_date")],
        [D1, D2, D3], "run-4",
    )
    assert len(created.changed) == 3
    assert _rows(env, f"{db}.{schema}.A_NEW") == [(D1, 10.0, "x"), (D2, 20.0, "x"), (D3, 30.0, "x")]
    publish.drop_staging(env.snowflake, db, [stage])
    _exec(env, f"DROP SCHEMA {db}.{schema} CASCADE")
