"""Preprocessing for daily_net_sales: clean and de-duplicate POS lines.

Drops exact duplicate lines (same transaction_id and line_no), lines whose store is
missing or unknown, zero quantities, non-positive prices and unknown currencies. Adds the
store's region and the line's gross and net amounts in the local currency.
"""

from __future__ import annotations

import pandas as pd

from metricdag.nodes.context import NodeContext


def run(inputs: dict[str, pd.DataFrame], context: NodeContext) -> dict[str, pd.DataFrame]:
    pos = inputs["pos_transactions"]
    stores = inputs["stores"][["store_id", "region", "currency"]].rename(columns={"currency": "store_currency"})

    deduped = pos.drop_duplicates(subset=["transaction_id", "line_no"], keep="first")
    lines = deduped.merge(stores, on="store_id", how="inner")
    valid = (lines["quantity"] != 0) & (lines["unit_price"] > 0) & (lines["currency"] == lines["store_currency"])
    clean = lines[valid].copy()

    clean["gross_amount"] = (clean["quantity"] * clean["unit_price"]).round(2)
    clean["net_amount"] = (clean["gross_amount"] - clean["discount"]).round(2)
    context.log.info(
        "clean_pos_transactions: %d lines in, %d duplicates, %d invalid, %d out",
        len(pos),
        len(pos) - len(deduped),
        len(deduped) - len(clean),
        len(clean),
    )
    columns = [
        "transaction_id", "line_no", "business_date", "store_id", "region", "product_id", "quantity",
        "unit_price", "discount", "currency", "is_return", "gross_amount", "net_amount",
    ]
    return {"pos_transactions_clean": clean[columns].reset_index(drop=True)}
