"""The issue as a user meets it: a day's rows vanish from Snowflake (a delete, a dropped table)
and the next run of the metric loads them again instead of trusting the ledger."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.audit.store import audit_store_for
from metricdag.day_run import materialize_metric
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.stack

METRIC = PROJECT_ROOT / "metrics" / "daily_net_sales"


def count(env, table: str, day: str) -> int:
    _, rows = run_query(env.snowflake, f"SELECT COUNT(*) FROM METRICS.{table} WHERE business_date = ?", (day,))
    return rows[0][0]


def test_rows_deleted_or_a_table_dropped_in_snowflake_are_loaded_by_the_next_run(seeded_env):
    day = sample_days(seeded_env)[-2].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_metric(METRIC, seeded_env, day, instance)[0]
    assert count(seeded_env, "NET_SALES_DAILY", day) == 18

    run_query(seeded_env.snowflake, "DELETE FROM METRICS.NET_SALES_DAILY WHERE business_date = ?", (day,))
    run_query(seeded_env.snowflake, "DROP TABLE METRICS.BASKET_STATS_DAILY")
    ok, summary = materialize_metric(METRIC, seeded_env, day, instance)

    assert ok, summary
    assert count(seeded_env, "NET_SALES_DAILY", day) == 18
    assert count(seeded_env, "BASKET_STATS_DAILY", day) > 0
    loads = [r for r in audit_store_for(seeded_env).query(metric="daily_net_sales", date=day) if r.kind == "load"]
    reloads = {r.detail.split(" ")[0]: r.detail for r in loads if r.status == "reloaded"}
    assert "table had 0 rows, ledger said 18" in reloads['"METRICDAG"."METRICS"."NET_SALES_DAILY"']
    assert "table did not exist" in reloads['"METRICDAG"."METRICS"."BASKET_STATS_DAILY"']
