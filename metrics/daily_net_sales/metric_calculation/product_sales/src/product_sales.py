"""Units sold and returned per store, product and business day.

The product-level companion of ``net_sales_daily``: other metrics (``inventory_turnover``)
read its reviewed copy. ``net_units`` = units sold - units returned: what left the shelf.
"""

from __future__ import annotations

import pandas as pd

from metricdag.nodes.context import NodeContext

KEY = ["business_date", "store_id", "product_id"]


def run(inputs: dict[str, pd.DataFrame], context: NodeContext) -> dict[str, pd.DataFrame]:
    lines = inputs["pos_transactions_clean"]
    returned = lines["is_return"].astype(bool)
    units = lines["quantity"].abs()
    frame = lines[KEY].assign(units_sold=units.where(~returned, 0), units_returned=units.where(returned, 0))
    daily = frame.groupby(KEY, as_index=False)[["units_sold", "units_returned"]].sum()
    daily["net_units"] = daily["units_sold"] - daily["units_returned"]
    context.log.info("product_sales: %d lines -> %d store/product rows", len(lines), len(daily))
    return {"product_sales_daily": daily.sort_values(KEY).reset_index(drop=True)}
