"""inventory_turnover end to end: daily_net_sales (python + Java nodes) first, then the Scala
turnover node on its reviewed product sales and the day's inventory snapshot, into Snowflake."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from metricdag.io.layout import current_file, partition_prefix
from metricdag.io.objectstore import store_for
from metricdag.io.parquet import from_parquet_bytes
from metricdag.day_run import materialize_metric
from metricdag.warehouse import run_query
from metricdag_localstack import sample_data
from metricdag_localstack.seed import sample_days
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.stack  # every test here needs the local stack

DAILY_NET_SALES = PROJECT_ROOT / "metrics" / "daily_net_sales"
INVENTORY_TURNOVER = PROJECT_ROOT / "metrics" / "inventory_turnover"


def query(env, sql: str) -> pd.DataFrame:
    columns, rows = run_query(env.snowflake, sql)
    return pd.DataFrame(rows, columns=[c.lower() for c in columns])


def reviewed(env, metric: str, dataset: str, day: str) -> pd.DataFrame:
    store = store_for(env.object_store_uri, env.object_store.s3_endpoint_url, env.object_store.s3_region)
    found = current_file(store, partition_prefix(env.object_store_uri, env.name, [metric, "review", dataset], day))
    assert found is not None, f"{metric}/review/{dataset} has no file for {day}"
    return from_parquet_bytes(store.get_bytes(found.uri))


def expected_turnover(snapshot: pd.DataFrame, product_sales: pd.DataFrame) -> pd.DataFrame:
    """The metric's definition in pandas, independent of the Scala implementation."""
    key = ["store_id", "product_id"]
    out = snapshot.merge(product_sales[[*key, "net_units"]], on=key, how="left").fillna({"net_units": 0})
    average = (out["opening_units"] + out["closing_units"]) / 2
    out["average_on_hand_units"] = average
    out["inventory_turnover"] = (out["net_units"] / average).where(average > 0)
    out["days_of_supply"] = (out["closing_units"] / out["net_units"]).where(out["net_units"] > 0)
    return out.sort_values(key).reset_index(drop=True)


def test_both_metrics_end_to_end_with_python_java_and_scala_nodes(seeded_env):
    day = sample_days(seeded_env)[-2].isoformat()
    instance = dg.DagsterInstance.ephemeral()

    ok, summary = materialize_metric(DAILY_NET_SALES, seeded_env, day, instance)
    assert ok, summary
    ok, summary = materialize_metric(INVENTORY_TURNOVER, seeded_env, day, instance)
    assert ok, summary

    baskets = query(seeded_env, f"SELECT * FROM METRICS.BASKET_STATS_DAILY WHERE business_date = '{day}' ORDER BY store_id")
    assert len(baskets) == 18 and (baskets["baskets"] > 0).all()
    assert baskets["mean_basket_value_usd"].between(1, 10_000).all()

    loaded = query(
        seeded_env,
        "SELECT store_id, product_id, opening_units, closing_units, net_units_sold, average_on_hand_units, "
        f"inventory_turnover, days_of_supply FROM METRICS.INVENTORY_TURNOVER_DAILY WHERE business_date = '{day}' "
        "ORDER BY store_id, product_id",
    )
    persisted = next(r for r in summary if r.asset == "inventory_turnover/persisted/inventory_turnover_daily")
    assert persisted.rows == len(loaded) == 18 * sample_data.N_PRODUCTS

    expected = expected_turnover(
        sample_data.inventory_snapshots(pd.Timestamp(day).date()),
        reviewed(seeded_env, "daily_net_sales", "product_sales_daily", day),
    )
    assert loaded["store_id"].tolist() == expected["store_id"].tolist()
    assert loaded["product_id"].tolist() == expected["product_id"].tolist()
    assert loaded["net_units_sold"].astype(int).tolist() == expected["net_units"].astype(int).tolist()
    assert loaded["net_units_sold"].sum() > 0
    # the node rounds half up, pandas half to even: allow one unit in the last decimal
    for column, places in (("average_on_hand_units", 1), ("inventory_turnover", 4), ("days_of_supply", 2)):
        pd.testing.assert_series_equal(
            loaded[column].astype(float), expected[column].astype(float), check_names=False, rtol=0, atol=10**-places
        )


def test_turnover_without_daily_net_sales_for_the_day_fails_clearly(seeded_env):
    day = sample_days(seeded_env)[1].isoformat()  # a day no test computes daily_net_sales for
    instance = dg.DagsterInstance.ephemeral()

    ok, summary = materialize_metric(INVENTORY_TURNOVER, seeded_env, day, instance)

    assert not ok
    failed = {r.asset: r.status for r in summary if r.status.startswith("failed")}
    assert any("turnover" in step for step in failed), summary
    assert f"daily_net_sales/review/product_sales_daily has no data for partition {day}" in failed["inventory_turnover__turnover"]
    errors = [
        record.dagster_event.event_specific_data.error.to_string()
        for run in instance.get_runs()
        for record in instance.all_logs(run.run_id)
        if record.dagster_event and record.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    assert any("daily_net_sales/review/product_sales_daily has no data for partition" in text for text in errors), errors
