"""inventory_turnover's Scala node on a hand-checked case, and its sample data."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from metricdag.catalog.seed import load_seed_files
from metricdag.nodes.context import NodeContext
from metricdag.nodes.execute import run_node
from metricdag.spec.loader import load_metric
from metricdag_localstack import sample_data
from tests.jvm_support import LineCollector

REPO = Path(__file__).resolve().parents[2]
METRIC = load_metric(REPO / "metrics" / "inventory_turnover", REPO)
SCHEMAS = {d.name: d.schema_ for d in load_seed_files(REPO / "pipeline-configs" / "catalog")}
DAY = date(2024, 6, 3)


def frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=columns)
    out.insert(0, "business_date", DAY)
    return out


SNAPSHOT = frame(
    ["store_id", "product_id", "opening_units", "closing_units"],
    [("S002", "P1", 7, 8), ("S001", "P3", 5, 20), ("S001", "P1", 10, 6), ("S001", "P2", 0, 0)],
)
PRODUCT_SALES = frame(
    ["store_id", "product_id", "units_sold", "units_returned", "net_units"],
    [("S001", "P1", 4, 0, 4), ("S001", "P3", 4, 1, 3), ("S002", "P1", 0, 1, -1), ("S003", "P9", 2, 0, 2)],
)


def test_turnover_on_a_hand_checked_day(jvm_cache):
    (node,) = METRIC.spec.metric_calculation
    log = LineCollector(logging.getLogger("test.turnover"))
    ctx = NodeContext(metric="inventory_turnover", node="turnover", partition_date=DAY, log=log.logger)

    out = run_node(
        METRIC.folder,
        node,
        {"inventory_snapshots": SNAPSHOT, "product_sales_daily": PRODUCT_SALES},
        ctx,
        {"inventory_turnover_daily": SCHEMAS["inventory_turnover_daily"]},
        jvm_cache=jvm_cache,
    )["inventory_turnover_daily"]

    nan = None
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in out.drop(columns="business_date").to_dict("records")]
    assert records == [
        # average on hand (10+6)/2 = 8; turnover 4/8; days of supply 6/4
        dict(store_id="S001", product_id="P1", opening_units=10, closing_units=6, net_units_sold=4,
             average_on_hand_units=8.0, inventory_turnover=0.5, days_of_supply=1.5),
        # nothing on hand, nothing sold: neither ratio exists
        dict(store_id="S001", product_id="P2", opening_units=0, closing_units=0, net_units_sold=0,
             average_on_hand_units=0.0, inventory_turnover=nan, days_of_supply=nan),
        # 3 net units (4 sold, 1 returned) against 12.5 on hand; 20 / 3 days of supply
        dict(store_id="S001", product_id="P3", opening_units=5, closing_units=20, net_units_sold=3,
             average_on_hand_units=12.5, inventory_turnover=0.24, days_of_supply=6.67),
        # more returned than sold: negative turnover, no days of supply
        dict(store_id="S002", product_id="P1", opening_units=7, closing_units=8, net_units_sold=-1,
             average_on_hand_units=7.5, inventory_turnover=-0.1333, days_of_supply=nan),
    ]  # fmt: skip
    assert (out["business_date"] == DAY).all()
    assert "turnover stderr | turnover: 1 store/product pair(s) sold but have no inventory snapshot row; left out" in log.messages


def test_inventory_sample_is_deterministic_and_days_connect():
    today = sample_data.inventory_snapshots(DAY)
    yesterday = sample_data.inventory_snapshots(DAY - timedelta(days=1))

    pd.testing.assert_frame_equal(today, sample_data.inventory_snapshots(DAY))
    assert len(today) == 18 * sample_data.N_PRODUCTS
    assert not today.duplicated(["store_id", "product_id"]).any()
    assert (today["opening_units"].to_numpy() == yesterday["closing_units"].to_numpy()).all()
    assert (today[["opening_units", "closing_units"]] >= 0).all().all()
    assert (today["opening_units"] == 0).any()  # some pairs are out of stock: the null branches are exercised
