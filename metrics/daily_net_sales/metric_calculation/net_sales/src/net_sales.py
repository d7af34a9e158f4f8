"""Net sales per store per business day, in USD.

net sales = sales lines (quantity x price - discount) + returns (negative lines), converted
with the day's USD rate of the store's currency.
"""

from __future__ import annotations

import pandas as pd

from metricdag.nodes.context import NodeContext


def run(inputs: dict[str, pd.DataFrame], context: NodeContext) -> dict[str, pd.DataFrame]:
    lines = inputs["pos_transactions_clean"]
    rates = inputs["fx_rates"].set_index("currency")["usd_per_unit"]

    missing = sorted(set(lines["currency"]) - set(rates.index))
    if missing:
        raise ValueError(f"no USD rate for currencies {missing} on {context.partition_date}")

    usd = lines["currency"].map(rates)
    sales = ~lines["is_return"]
    frame = pd.DataFrame(
        {
            "business_date": lines["business_date"],
            "store_id": lines["store_id"],
            "region": lines["region"],
            "transaction_id": lines["transaction_id"],
            "units": lines["quantity"].where(sales, 0),
            "gross_usd": (lines["gross_amount"] * usd).where(sales, 0.0),
            "discount_usd": (lines["discount"] * usd).where(sales, 0.0),
            "returns_usd": (-lines["gross_amount"] * usd).where(~sales, 0.0),
        }
    )
    daily = frame.groupby(["business_date", "store_id", "region"], as_index=False).agg(
        transactions=("transaction_id", "nunique"),
        units_sold=("units", "sum"),
        gross_sales_usd=("gross_usd", "sum"),
        discounts_usd=("discount_usd", "sum"),
        returns_usd=("returns_usd", "sum"),
    )
    daily["net_sales_usd"] = daily["gross_sales_usd"] - daily["discounts_usd"] - daily["returns_usd"]
    for col in ("gross_sales_usd", "discounts_usd", "returns_usd", "net_sales_usd"):
        daily[col] = daily[col].round(2)
    return {"net_sales_daily": daily.sort_values("store_id").reset_index(drop=True)}
