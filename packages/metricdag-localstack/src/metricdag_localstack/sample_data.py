"""Deterministic, realistic synthetic data for the example metric ``daily_net_sales``.

POS transaction lines across stores in several countries and currencies, with discounts,
returns, a few exact duplicates and a few malformed lines (unknown store, missing store,
zero quantity, negative price, unknown currency) that preprocessing must remove.
Same arguments, same data: every value comes from one seeded generator.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

CURRENCIES = {"USD": 1.0, "EUR": 1.085, "GBP": 1.268, "CAD": 0.737, "JPY": 0.0067}
COUNTRIES = [
    ("US", "USD", "North America", ["New York", "Chicago", "Austin", "Seattle", "Denver"]),
    ("CA", "CAD", "North America", ["Toronto", "Vancouver", "Montreal"]),
    ("GB", "GBP", "Europe", ["London", "Manchester", "Leeds"]),
    ("DE", "EUR", "Europe", ["Berlin", "Munich", "Hamburg"]),
    ("FR", "EUR", "Europe", ["Paris", "Lyon"]),
    ("JP", "JPY", "Asia Pacific", ["Tokyo", "Osaka"]),
]
N_PRODUCTS = 400


def stores() -> pd.DataFrame:
    """Store reference data: one row per store (18 stores)."""
    rows = []
    n = 0
    for country, currency, region, cities in COUNTRIES:
        for city in cities:
            n += 1
            rows.append(
                {
                    "store_id": f"S{n:03d}",
                    "store_name": f"{city} {'Flagship' if n % 4 == 1 else 'Store'}",
                    "city": city,
                    "country": country,
                    "currency": currency,
                    "region": region,
                    "opened_on": date(2015 + n % 8, 1 + n % 12, 1 + n % 27),
                }
            )
    return pd.DataFrame(rows)


def fx_rates() -> pd.DataFrame:
    """Fixed FX rates: USD per one unit of each currency."""
    return pd.DataFrame({"currency": list(CURRENCIES), "usd_per_unit": list(CURRENCIES.values())})


def _product_prices(rng: np.random.Generator) -> np.ndarray:
    return np.round(rng.lognormal(mean=2.6, sigma=0.9, size=N_PRODUCTS).clip(0.5, 900), 2)


def pos_transactions(rows: int, business_date: date, seed: int = 7) -> pd.DataFrame:
    """About ``rows`` POS lines for one business day (exactly ``rows`` after duplicates)."""
    if rows < 10:
        raise ValueError("rows must be at least 10")
    rng = np.random.default_rng([seed, business_date.toordinal()])
    store_ref = stores()
    prices = _product_prices(np.random.default_rng(seed))
    n_dupes = max(1, rows // 200)
    n = rows - n_dupes

    # Baskets of 1-6 lines; each basket belongs to one store.
    basket_sizes = rng.integers(1, 7, size=n)
    basket_of_line = np.repeat(np.arange(n), basket_sizes)[:n]
    line_no = np.concatenate([np.arange(1, s + 1) for s in basket_sizes])[:n]
    store_weights = rng.dirichlet(np.ones(len(store_ref)) * 3)
    basket_store = rng.choice(len(store_ref), size=n, p=store_weights)[basket_of_line]
    product_idx = rng.integers(0, N_PRODUCTS, size=n)
    is_return = rng.random(n) < 0.03
    quantity = rng.integers(1, 6, size=n)
    quantity = np.where(is_return, -quantity, quantity)
    currency = store_ref["currency"].to_numpy()[basket_store]
    rate = np.array([CURRENCIES[c] for c in currency])
    unit_price = np.round(prices[product_idx] / rate, 2)
    discount = np.where(rng.random(n) < 0.2, np.round(np.abs(quantity) * unit_price * rng.uniform(0.05, 0.3, n), 2), 0.0)
    discount = np.where(is_return, 0.0, discount)
    seconds = rng.integers(8 * 3600, 22 * 3600, size=n)
    start = datetime.combine(business_date, time())

    df = pd.DataFrame(
        {
            "transaction_id": [f"T{business_date:%Y%m%d}-{b:07d}" for b in basket_of_line],
            "line_no": line_no.astype("int64"),
            "business_date": business_date,
            "store_id": store_ref["store_id"].to_numpy()[basket_store].astype(object),
            "product_id": [f"P{p:04d}" for p in product_idx],
            "quantity": quantity.astype("int64"),
            "unit_price": unit_price,
            "discount": discount,
            "currency": currency.astype(object),
            "is_return": is_return,
            "sold_at": [start + timedelta(seconds=int(s)) for s in seconds],
        }
    )
    # Malformed lines, about 0.3% of rows, each kind at its own rows.
    bad = rng.choice(n, size=max(5, n // 300), replace=False)
    kinds = np.arange(len(bad)) % 5
    df.loc[bad[kinds == 0], "store_id"] = "S999"
    df.loc[bad[kinds == 1], "store_id"] = None
    df.loc[bad[kinds == 2], "quantity"] = 0
    df.loc[bad[kinds == 3], "unit_price"] = -df.loc[bad[kinds == 3], "unit_price"]
    df.loc[bad[kinds == 4], "currency"] = "XXX"
    # Exact duplicates, as a double-submitting till produces.
    dupes = df.iloc[rng.choice(n, size=n_dupes, replace=False)]
    out = pd.concat([df, dupes], ignore_index=True)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


INVENTORY_EPOCH = date(2024, 5, 1)  # stock is simulated day by day from here, so days connect


def inventory_snapshots(business_date: date, seed: int = 11) -> pd.DataFrame:
    """The day's stock record for every store x product (18 x 400 rows): units on hand at
    opening and at close. Deterministic; one day's opening is the previous day's closing.

    Each pair has its own daily demand rate; stock is replenished (mostly on time) when it falls
    below three days of demand, so some pairs run out and show zero stock.
    """
    store_ids = stores()["store_id"].to_numpy()
    pairs = len(store_ids) * N_PRODUCTS
    base = np.random.default_rng(seed)
    rate = base.gamma(shape=1.5, scale=2.5, size=pairs)
    reorder_point = np.ceil(rate * 3)
    order_units = np.ceil(rate * 7) + 2
    stock = (np.ceil(rate * 6) + base.integers(0, 10, size=pairs)).astype("int64")
    first = min(INVENTORY_EPOCH, business_date)
    opening = closing = stock
    for n in range((business_date - first).days + 1):
        rng = np.random.default_rng([seed, (first + timedelta(days=n)).toordinal()])
        opening = stock
        after_sales = np.maximum(opening - rng.poisson(rate), 0)
        delivered = (after_sales < reorder_point) & (rng.random(pairs) < 0.85)
        closing = (after_sales + np.where(delivered, order_units, 0)).astype("int64")
        stock = closing
    return pd.DataFrame(
        {
            "business_date": business_date,
            "store_id": np.repeat(store_ids, N_PRODUCTS).astype(object),
            "product_id": np.tile([f"P{p:04d}" for p in range(N_PRODUCTS)], len(store_ids)).astype(object),
            "opening_units": opening.astype("int64"),
            "closing_units": closing.astype("int64"),
        }
    )
