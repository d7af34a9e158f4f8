"""The example metric's node functions, called directly on sample and hand-built data."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metricdag.nodes.context import NodeContext
from metricdag.nodes.python import load_entrypoint
from metricdag_localstack import sample_data

REPO = Path(__file__).resolve().parents[2]
METRIC = REPO / "metrics" / "daily_net_sales"
DAY = date(2024, 6, 3)


@pytest.fixture(scope="module")
def clean_pos():
    name = "test_daily_net_sales__clean"
    yield load_entrypoint(METRIC, "preprocessing/clean_pos_transactions.py:run", name)
    sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def net_sales():
    name = "test_daily_net_sales__net_sales"
    yield load_entrypoint(METRIC, "metric_calculation/net_sales/src/net_sales.py:run", name)
    sys.modules.pop(name, None)


def context(node: str) -> NodeContext:
    return NodeContext(metric="daily_net_sales", node=node, partition_date=DAY)


# --- preprocessing on the generated sample --------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    pos = sample_data.pos_transactions(2000, DAY)
    return pos, sample_data.stores()


def test_sample_contains_every_kind_of_dirt(sample):
    """Guard for the test below: the sample really has duplicates and each malformed kind."""
    pos, _ = sample
    assert pos.duplicated().sum() >= 1
    assert (pos["store_id"] == "S999").sum() >= 1
    assert pos["store_id"].isna().sum() >= 1
    assert (pos["quantity"] == 0).sum() >= 1
    assert (pos["unit_price"] < 0).sum() >= 1
    assert (pos["currency"] == "XXX").sum() >= 1


def test_preprocessing_removes_duplicates_and_malformed_lines_and_nothing_else(sample, clean_pos):
    pos, stores = sample
    known_stores = set(stores["store_id"])
    malformed = (
        ~pos["store_id"].isin(known_stores)  # S999 and missing store
        | (pos["quantity"] == 0)
        | (pos["unit_price"] <= 0)
        | ~pos["currency"].isin(set(sample_data.CURRENCIES))  # XXX
    )
    duplicate = pos.duplicated(keep="first")  # exact copies of an earlier line
    expected = pos[~malformed & ~duplicate]
    assert 0 < len(expected) < len(pos)

    out = clean_pos({"pos_transactions": pos, "stores": stores}, context("clean_pos_transactions"))
    clean = out["pos_transactions_clean"]

    assert len(clean) == len(expected)
    assert sorted(zip(clean["transaction_id"], clean["line_no"])) == sorted(
        zip(expected["transaction_id"], expected["line_no"])
    )
    assert not clean.duplicated(subset=["transaction_id", "line_no"]).any()
    # the kept lines are unchanged
    kept = clean.merge(expected, on=["transaction_id", "line_no"], suffixes=("", "_in"))
    for col in ("store_id", "quantity", "unit_price", "discount", "currency", "is_return"):
        assert (kept[col] == kept[f"{col}_in"]).all(), col


def test_preprocessing_adds_region_and_amounts(sample, clean_pos):
    pos, stores = sample

    clean = clean_pos({"pos_transactions": pos, "stores": stores}, context("clean_pos_transactions"))[
        "pos_transactions_clean"
    ]

    region = clean["store_id"].map(stores.set_index("store_id")["region"])
    assert (clean["region"] == region).all()
    assert ((clean["gross_amount"] - clean["quantity"] * clean["unit_price"]).abs() < 0.006).all()
    assert ((clean["net_amount"] - (clean["gross_amount"] - clean["discount"])).abs() < 0.006).all()


# --- net sales on a tiny hand-built day --------------------------------------------------------


def tiny_clean_lines() -> pd.DataFrame:
    """Two stores: S001 sells in USD, S002 in EUR.

    S001  T1/1 sale   2 x 10.00, discount 3.00   gross 20.00
          T1/2 sale   1 x  5.50                   gross  5.50
          T2/1 return -1 x 10.00                  gross -10.00
    S002  T3/1 sale   3 x 20.00 EUR, discount 6.00 EUR   gross 60.00 EUR
          T4/1 return -2 x  5.00 EUR                     gross -10.00 EUR
    """
    rows = [
        # transaction, line, store, region, quantity, price, discount, currency, is_return
        ("T1", 1, "S001", "North America", 2, 10.00, 3.00, "USD", False),
        ("T1", 2, "S001", "North America", 1, 5.50, 0.00, "USD", False),
        ("T2", 1, "S001", "North America", -1, 10.00, 0.00, "USD", True),
        ("T3", 1, "S002", "Europe", 3, 20.00, 6.00, "EUR", False),
        ("T4", 1, "S002", "Europe", -2, 5.00, 0.00, "EUR", True),
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "transaction_id", "line_no", "store_id", "region", "quantity", "unit_price", "discount",
            "currency", "is_return",
        ],
    )
    df.insert(2, "business_date", DAY)
    df["gross_amount"] = (df["quantity"] * df["unit_price"]).round(2)
    df["net_amount"] = (df["gross_amount"] - df["discount"]).round(2)
    return df


FX = pd.DataFrame({"currency": ["USD", "EUR", "GBP"], "usd_per_unit": [1.0, 1.10, 1.25]})


def test_net_sales_per_store_in_usd(net_sales):
    out = net_sales({"pos_transactions_clean": tiny_clean_lines(), "fx_rates": FX}, context("net_sales"))

    daily = out["net_sales_daily"]
    expected = pd.DataFrame(
        {
            "business_date": [DAY, DAY],
            "store_id": ["S001", "S002"],
            "region": ["North America", "Europe"],
            "transactions": [2, 2],
            "units_sold": [3, 3],
            "gross_sales_usd": [25.50, 66.00],  # 20 + 5.5 ; 60 EUR x 1.10
            "discounts_usd": [3.00, 6.60],  # 3 ; 6 EUR x 1.10
            "returns_usd": [10.00, 11.00],  # 10 ; 10 EUR x 1.10
            "net_sales_usd": [12.50, 48.40],  # 25.5 - 3 - 10 ; 66 - 6.6 - 11
        }
    )
    assert list(daily.columns) == list(expected.columns)
    assert daily[["business_date", "store_id", "region"]].astype(object).values.tolist() == (
        expected[["business_date", "store_id", "region"]].astype(object).values.tolist()
    )
    assert daily["transactions"].tolist() == [2, 2]
    assert daily["units_sold"].tolist() == [3, 3]
    for col in ("gross_sales_usd", "discounts_usd", "returns_usd", "net_sales_usd"):
        assert daily[col].tolist() == pytest.approx(expected[col].tolist(), abs=1e-9), col


def test_net_sales_fails_on_a_currency_without_rate(net_sales):
    lines = tiny_clean_lines()
    fx = FX[FX["currency"] != "EUR"]

    with pytest.raises(ValueError, match=r"no USD rate for currencies \['EUR'\] on 2024-06-03"):
        net_sales({"pos_transactions_clean": lines, "fx_rates": fx}, context("net_sales"))


def test_preprocessing_then_net_sales_on_raw_lines(clean_pos, net_sales):
    """The same tiny day as raw POS lines, plus one duplicate and one unknown store, through both nodes."""
    raw = tiny_clean_lines().drop(columns=["region", "gross_amount", "net_amount"])
    raw["product_id"] = "P0001"
    raw = pd.concat([raw, raw.iloc[[0]]], ignore_index=True)  # T1/1 submitted twice
    stray = raw.iloc[[1]].assign(transaction_id="T9", store_id="S999")
    raw = pd.concat([raw, stray], ignore_index=True)
    stores = pd.DataFrame(
        {"store_id": ["S001", "S002"], "region": ["North America", "Europe"], "currency": ["USD", "EUR"]}
    )

    clean = clean_pos({"pos_transactions": raw, "stores": stores}, context("clean_pos_transactions"))
    daily = net_sales({**clean, "fx_rates": FX}, context("net_sales"))["net_sales_daily"]

    assert daily["store_id"].tolist() == ["S001", "S002"]
    assert daily["net_sales_usd"].tolist() == pytest.approx([12.50, 48.40], abs=1e-9)


# --- the sample generator ----------------------------------------------------------------------


def test_generator_is_deterministic():
    pd.testing.assert_frame_equal(sample_data.pos_transactions(500, DAY), sample_data.pos_transactions(500, DAY))


def test_generator_gives_different_data_for_another_day():
    a = sample_data.pos_transactions(500, DAY)
    b = sample_data.pos_transactions(500, date(2024, 6, 4))

    assert set(b["business_date"]) == {date(2024, 6, 4)}
    # compare what does not contain the date itself
    cols = ["store_id", "product_id", "quantity", "unit_price"]
    assert not a[cols].equals(b[cols])


@pytest.mark.parametrize("rows", [10, 11, 199, 200, 201, 2000, 4321])
def test_generator_returns_exactly_the_requested_row_count(rows):
    assert len(sample_data.pos_transactions(rows, DAY)) == rows


def test_generator_refuses_fewer_than_ten_rows():
    with pytest.raises(ValueError, match="at least 10"):
        sample_data.pos_transactions(9, DAY)
