"""The Java node ``basket_stats`` at ``rows`` clean POS lines beside the same computation in pandas.

- *Java node*: :func:`metricdag.nodes.execute.run_node` exactly as the step calls it (classes from
  the compile cache, compiled once beforehand and untimed): the inputs written as columnar
  exchange files, the JVM run, the output CSV read back and conformed to the catalog schema.
- *pandas*: the reference computation of ``tests/metrics/test_basket_stats_and_product_sales.py``
  on the same DataFrames, in process.

The exchange's share is the time the runner spends writing the input files and reading the
output CSV back (measured on the same data with the same functions), over the node's time; the
JVM's own reading is inside its run time.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also as `python -m benchmarks.jvm_bench`

from common import ROOT, Result, median_seconds  # noqa: E402

DAY = date(2024, 6, 3)


def inputs(rows: int) -> dict[str, pd.DataFrame]:
    """The node's inputs as the step gets them: the clean node's conformed output, and fx rates."""
    from metricdag.catalog.seed import load_seed_files
    from metricdag.nodes.context import NodeContext
    from metricdag.nodes.execute import run_node
    from metricdag.spec.loader import load_metric
    from metricdag_localstack import sample_data

    metric = load_metric(ROOT / "metrics" / "daily_net_sales", ROOT)
    node = next(n for _, n in metric.spec.nodes() if n.name == "clean_pos_transactions")
    schemas = {d.name: d.schema_ for d in load_seed_files(ROOT / "pipeline-configs" / "catalog")}
    ctx = NodeContext(metric="daily_net_sales", node=node.name, partition_date=DAY)
    raw = {"pos_transactions": sample_data.pos_transactions(rows, DAY), "stores": sample_data.stores()}
    out = run_node(metric.folder, node, raw, ctx, {o: schemas[o] for o in node.output_names})
    return {"pos_transactions_clean": out["pos_transactions_clean"], "fx_rates": sample_data.fx_rates()}


def with_pandas(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    clean, fx = data["pos_transactions_clean"], data["fx_rates"]
    sales = clean[~clean["is_return"].astype(bool)]
    usd = sales["net_amount"] * sales["currency"].map(fx.set_index("currency")["usd_per_unit"])
    totals = (
        sales.assign(usd=usd)
        .groupby(["business_date", "store_id"], as_index=False)
        .agg(baskets=("transaction_id", "nunique"), items=("quantity", "sum"), value=("usd", "sum"))
    )
    return pd.DataFrame({
        "business_date": totals["business_date"], "store_id": totals["store_id"], "baskets": totals["baskets"],
        "mean_items_per_basket": (totals["items"] / totals["baskets"]).round(4),
        "mean_basket_value_usd": (totals["value"] / totals["baskets"]).round(2),
    })


def run(rows: int, repeat: int = 3) -> list[Result]:
    from metricdag.catalog.seed import load_seed_files
    from metricdag.nodes.context import NodeContext
    from metricdag.nodes.columnar import write_columns
    from metricdag.nodes.csv_exchange import read_csv
    from metricdag.nodes.execute import run_node
    from metricdag.spec.loader import load_metric

    metric = load_metric(ROOT / "metrics" / "daily_net_sales", ROOT)
    node = next(n for _, n in metric.spec.nodes() if n.name == "basket_stats")
    schemas = {d.name: d.schema_ for d in load_seed_files(ROOT / "pipeline-configs" / "catalog")}
    schemas = {o: schemas[o] for o in node.output_names}
    ctx = NodeContext(metric="daily_net_sales", node="basket_stats", partition_date=DAY)
    data = inputs(rows)
    cache = Path(tempfile.mkdtemp(prefix="metricdag-bench-jvm-"))

    def java() -> pd.DataFrame:
        return run_node(metric.folder, node, data, ctx, schemas, jvm_cache=cache)["basket_stats_daily"]

    out = java()  # compiles into the cache: not measured
    expected = with_pandas(data)
    if out["baskets"].tolist() != expected["baskets"].tolist():
        raise RuntimeError("basket_stats and the pandas reference disagree on the basket counts")

    java_s = median_seconds(java, repeat)
    pandas_s = median_seconds(lambda: with_pandas(data), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        out_csv = Path(tmp, "out.csv")
        out.to_csv(out_csv, index=False)  # the node's output, as it writes it

        def exchange() -> None:
            for name, frame in data.items():
                write_columns(frame, Path(tmp, f"{name}.cols"))
            read_csv(out_csv)

        exchange_s = median_seconds(exchange, repeat)
    ratio = java_s / pandas_s
    lines = len(data["pos_transactions_clean"])
    return [
        Result(f"Java node basket_stats, {lines:,} clean POS lines (wall)", round(java_s, 2), "s",
               "the same in pandas", round(pandas_s, 2), round(ratio, 2), "<= 2x at 1,000,000 rows",
               ratio <= 2 if rows >= 1_000_000 else None),
        Result("  exchange (input files written, output CSV read back) in that", round(exchange_s, 2), "s",
               "the Java node's time", round(java_s, 2), round(exchange_s / java_s, 2)),
    ]


if __name__ == "__main__":
    import json
    import os

    for r in run(int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("BENCH_ROWS", "1000000"))):
        print(json.dumps(r.row()))
