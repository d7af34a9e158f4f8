"""daily_net_sales end to end (net_sales path) vs one plain pandas script doing the same work.

Both read the same day from the same local Snowflake, object store and Legend stand-in, run
the same node functions, write Parquet and load it with the persister. Each side runs in its
own process (peak RSS is per process); medians of `repeat` runs.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time

from common import ROOT, Result

SELECTION = [
    "daily_net_sales/sourcing/pos_transactions", "daily_net_sales/sourcing/stores", "daily_net_sales/sourcing/fx_rates",
    "daily_net_sales/preprocessing/pos_transactions_clean", "daily_net_sales/metric_calculation/net_sales_daily",
    "daily_net_sales/review/net_sales_daily", "daily_net_sales/persisted/net_sales_daily",
]


def with_metricdag(day: str) -> None:
    import dagster as dg

    from metricdag.factory import build_metric_definitions, job_name
    from metricdag.settings import load_environment

    env = load_environment("local", ROOT)
    job = build_metric_definitions(ROOT / "metrics" / "daily_net_sales", env).resolve_job_def(job_name("daily_net_sales"))
    result = job.execute_in_process(
        partition_key=day, instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey.from_user_string(k) for k in SELECTION],
    )
    assert result.success


def with_pandas(day: str) -> None:
    """The same transformations and load, written as one script."""
    import importlib.util
    from datetime import date

    from metricdag.catalog.client import CatalogClient
    from metricdag.io.objectstore import join_uri, store_for
    from metricdag.io.parquet import to_parquet_bytes
    from metricdag.nodes.context import NodeContext
    from metricdag.persistence.handler import handler
    from metricdag.persistence.request import PersistRequest
    from metricdag.resources import resources_for
    from metricdag.settings import load_environment
    from metricdag.sourcing.legend import read_legend
    from metricdag.sourcing.object_store import read_object_store
    from metricdag.sourcing.snowflake import partition_query
    import snowflake.connector

    def node(path: str):
        spec = importlib.util.spec_from_file_location(path.replace("/", "_"), ROOT / "metrics" / "daily_net_sales" / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.run

    env = load_environment("local", ROOT)
    day_ = date.fromisoformat(day)
    client = CatalogClient.for_environment(env)
    pos_meta, stores_meta, fx_meta = (client.resolve(n) for n in ("pos_transactions", "stores", "fx_rates"))
    sql, params = partition_query(pos_meta.coordinates, pos_meta.schema_, env.snowflake.database, day_)
    with snowflake.connector.connect(**env.snowflake.connection_args()) as conn:
        cur = conn.cursor()
        cur.execute(sql, params)
        pos = cur.fetch_pandas_all()
    pos.columns = [c.lower() for c in pos.columns]
    store = store_for(env.object_store_uri)
    stores = read_object_store(store, "stores", stores_meta.coordinates, env.object_store_uri, day_)
    legend = resources_for(env)["legend"]
    fx = read_legend(legend.session(), legend.url_for(fx_meta.coordinates, "fx_rates"), {"date": day},
                     fx_meta.coordinates.page_size, "fx_rates")
    ctx = NodeContext(metric="daily_net_sales", node="script", partition_date=day_)
    clean = node("preprocessing/clean_pos_transactions.py")({"pos_transactions": pos, "stores": stores}, ctx)
    net = node("metric_calculation/net_sales/src/net_sales.py")(
        {"pos_transactions_clean": clean["pos_transactions_clean"], "fx_rates": fx}, ctx)["net_sales_daily"]
    uri = join_uri(env.object_store_uri, "bench-script", f"{day_:%Y/%m/%d}", f"{time.time_ns()}.parquet")
    store.put_bytes(uri, to_parquet_bytes(net))
    handler(PersistRequest(environment=env.name, dataset="net_sales_daily", database=env.snowflake.database,
                           schema="BENCH", table="NET_SALES_SCRIPT", source_uri=uri, partition_column="business_date",
                           partition_value=day_, run_id="bench-script").model_dump(mode="json", by_alias=True))


def measure(side: str, day: str) -> dict:
    out = subprocess.run([sys.executable, __file__, side, day], capture_output=True, text=True, cwd=ROOT / "benchmarks")
    if out.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(env, rows: int, repeat: int = 3) -> list[Result]:
    day = env.localstack.sample.end_date.isoformat()
    sides = {side: [measure(side, day) for _ in range(repeat)] for side in ("metricdag", "pandas")}
    secs = {s: statistics.median(m["seconds"] for m in runs) for s, runs in sides.items()}
    mem = {s: statistics.median(m["peak_mib"] for m in runs) for s, runs in sides.items()}
    ratio = secs["metricdag"] / secs["pandas"]
    return [
        Result(f"daily_net_sales end to end, {rows:,} POS rows (wall)", round(secs["metricdag"], 2), "s",
               "plain pandas script", round(secs["pandas"], 2), round(ratio, 2), "<= 1.3x", ratio <= 1.3),
        Result("  peak memory of that process", round(mem["metricdag"]), "MiB", "plain pandas script",
               round(mem["pandas"]), round(mem["metricdag"] / mem["pandas"], 2)),
    ]


if __name__ == "__main__":
    side, day = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    (with_metricdag if side == "metricdag" else with_pandas)(day)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
