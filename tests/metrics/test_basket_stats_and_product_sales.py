"""daily_net_sales' basket_stats (Java) and product_sales (python) nodes on hand-checked data,
run through the node runner exactly as the step runs them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metricdag.catalog.seed import load_seed_files
from metricdag.nodes.context import NodeContext
from metricdag.nodes.execute import run_node
from metricdag.spec.loader import load_metric
from metricdag_localstack import sample_data

REPO = Path(__file__).resolve().parents[2]
METRIC = load_metric(REPO / "metrics" / "daily_net_sales", REPO)
SCHEMAS = {d.name: d.schema_ for d in load_seed_files(REPO / "pipeline-configs" / "catalog")}
DAY = date(2024, 6, 3)
RATES = pd.DataFrame({"currency": ["USD", "EUR"], "usd_per_unit": [1.0, 1.085]})


def node(name: str):
    return next(n for _, n in METRIC.spec.nodes() if n.name == name)


def run(name: str, inputs: dict[str, pd.DataFrame], cache: Path | None = None) -> pd.DataFrame:
    spec = node(name)
    ctx = NodeContext(metric="daily_net_sales", node=name, partition_date=DAY)
    out = run_node(METRIC.folder, spec, inputs, ctx, {o: SCHEMAS[o] for o in spec.output_names}, jvm_cache=cache)
    return out[spec.output_names[0]]


def lines(*rows: tuple) -> pd.DataFrame:
    """(transaction_id, store_id, product_id, quantity, net_amount, currency, is_return) -> clean POS lines."""
    frame = pd.DataFrame(rows, columns=["transaction_id", "store_id", "product_id", "quantity", "net_amount", "currency", "is_return"])
    frame["line_no"] = frame.groupby("transaction_id").cumcount() + 1
    frame["business_date"] = DAY
    frame["region"] = "somewhere"
    frame["unit_price"] = (frame["net_amount"] / frame["quantity"]).abs()
    frame["discount"] = 0.0
    frame["gross_amount"] = frame["net_amount"]
    return frame


HAND_CHECKED = lines(
    ("T1", "S001", "P1", 2, 20.00, "USD", False),
    ("T1", "S001", "P2", 1, 5.00, "USD", False),
    ("T2", "S001", "P1", 1, 10.00, "USD", False),
    ("T2", "S001", "P3", -1, -3.00, "USD", True),  # a return inside a basket: not basket content
    ("T3", "S001", "P2", -1, -7.00, "USD", True),  # returns only: not a basket
    ("T4", "S010", "P1", 3, 30.00, "EUR", False),
    ("T5", "S010", "P2", 1, 9.99, "EUR", False),
    ("T6", "S010", "P1", 3, 0.01, "EUR", False),
)


def test_basket_stats_on_a_hand_checked_day(jvm_cache):
    out = run("basket_stats", {"pos_transactions_clean": HAND_CHECKED, "fx_rates": RATES}, jvm_cache)

    assert out.to_dict("records") == [
        # S001: baskets T1, T2; items 2+1+1 = 4; value 20+5+10 = 35 USD
        {"business_date": DAY, "store_id": "S001", "baskets": 2, "mean_items_per_basket": 2.0, "mean_basket_value_usd": 17.5},
        # S010: baskets T4, T5, T6; items 3+1+3 = 7; value (30+9.99+0.01) x 1.085 = 43.40 USD
        {"business_date": DAY, "store_id": "S010", "baskets": 3, "mean_items_per_basket": 2.3333, "mean_basket_value_usd": 14.47},
    ]


def test_basket_stats_match_a_pandas_reference_on_the_sample(jvm_cache):
    clean_pos = run("clean_pos_transactions", {"pos_transactions": sample_data.pos_transactions(2000, DAY), "stores": sample_data.stores()})
    fx = sample_data.fx_rates()

    out = run("basket_stats", {"pos_transactions_clean": clean_pos, "fx_rates": fx}, jvm_cache)

    sales = clean_pos[~clean_pos["is_return"]]
    usd = sales["net_amount"] * sales["currency"].map(fx.set_index("currency")["usd_per_unit"])
    expected = (
        sales.assign(usd=usd)
        .groupby(["business_date", "store_id"], as_index=False)
        .agg(baskets=("transaction_id", "nunique"), items=("quantity", "sum"), value=("usd", "sum"))
    )
    assert out["store_id"].tolist() == expected["store_id"].tolist() and len(out) == 18
    assert out["baskets"].tolist() == expected["baskets"].tolist()
    pd.testing.assert_series_equal(out["mean_items_per_basket"], (expected["items"] / expected["baskets"]).round(4), check_names=False)
    pd.testing.assert_series_equal(out["mean_basket_value_usd"], (expected["value"] / expected["baskets"]), check_names=False, atol=0.0051)


def test_basket_stats_read_quoted_fields_across_the_readers_buffer(jvm_cache):
    """Quoted fields (a comma and quotes in every row) over a file many times the Java reader's
    64 Ki-char buffer: the same result as the unquoted file."""
    clean_pos = run("clean_pos_transactions", {"pos_transactions": sample_data.pos_transactions(2000, DAY), "stores": sample_data.stores()})
    fx = sample_data.fx_rates()
    plain = run("basket_stats", {"pos_transactions_clean": clean_pos, "fx_rates": fx}, jvm_cache)

    quoted = clean_pos.assign(region='Europe, "West"\r\nand more')
    out = run("basket_stats", {"pos_transactions_clean": quoted, "fx_rates": fx}, jvm_cache)

    pd.testing.assert_frame_equal(out, plain)


def test_basket_stats_fails_on_a_currency_without_rate(jvm_cache):
    from metricdag.nodes.errors import NodeError

    with pytest.raises(NodeError) as info:
        run("basket_stats", {"pos_transactions_clean": HAND_CHECKED, "fx_rates": RATES.iloc[:1]}, jvm_cache)

    assert "exited with code 1" in str(info.value)
    assert "pos_transactions_clean.cols row 6: no USD rate for currency EUR" in str(info.value)


def test_product_sales_on_a_hand_checked_day():
    out = run("product_sales", {"pos_transactions_clean": HAND_CHECKED})

    assert out[["store_id", "product_id", "units_sold", "units_returned", "net_units"]].values.tolist() == [
        ["S001", "P1", 3, 0, 3],
        ["S001", "P2", 1, 1, 0],
        ["S001", "P3", 0, 1, -1],
        ["S010", "P1", 6, 0, 6],
        ["S010", "P2", 1, 0, 1],
    ]
    assert out["net_units"].dtype == "int64"
