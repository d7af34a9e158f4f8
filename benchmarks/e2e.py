"""daily_net_sales end to end (net_sales path): launched, in process, and one plain pandas script.

*Launched* is how the schedule, sensors, the UI and backfills run it: ``dg.execute_job`` of the
reconstructable job on a DagsterInstance with storage in a temp folder, with the executor the
metric is configured with. *In process* is ``execute_in_process`` on an ephemeral instance. All
sides read the same day from the same local Snowflake, object store and Legend stand-in, run the
same node functions, write Parquet and load it with the persister. Each side runs in its own
process (peak RSS is per process; imports and definitions load count); medians of `repeat` runs.
"""

from __future__ import annotations

import functools
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


@functools.cache
def _daily_job():
    from metricdag.factory import build_metric_definitions, job_name
    from metricdag.settings import load_environment

    env = load_environment("local", ROOT)
    return build_metric_definitions(ROOT / "metrics" / "daily_net_sales", env).resolve_job_def(job_name("daily_net_sales"))


def daily_job():
    """Module-level so Dagster can reconstruct the job (in each step's process, for multiprocess).
    Built once per process, as a code location's module-level ``defs`` is: Dagster resolves the
    pointer several times per launch (run creation, the selection's subset, the plan)."""
    return _daily_job()


# The alternative the metric did not choose, for the same launched run: a step per process,
# forked from a server that imported these modules once.
FORKSERVER = {"execution": {"config": {"multiprocess": {"max_concurrent": 2, "start_method": {
    "forkserver": {"preload_modules": ["dagster", "pandas", "pyarrow", "metricdag.factory"]}}}}}}


def launched_forkserver(day: str) -> None:
    launched(day, FORKSERVER)


def launched(day: str, run_config: dict | None = None) -> None:
    import tempfile

    import dagster as dg

    with tempfile.TemporaryDirectory(prefix="metricdag-bench-instance-") as home:
        # SQLite run and event storage, as `dagster dev`; no telemetry files under DAGSTER_HOME
        with dg.DagsterInstance.local_temp(home, overrides={"telemetry": {"enabled": False}}) as instance:
            result = dg.execute_job(
                dg.reconstructable(daily_job), instance=instance, tags={"dagster/partition": day},
                asset_selection=[dg.AssetKey.from_user_string(k) for k in SELECTION], run_config=run_config,
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
    from metricdag.factory.build import executor_spec
    from metricdag.spec.loader import load_metric

    day = env.localstack.sample.end_date.isoformat()
    sides = {side: [measure(side, day) for _ in range(repeat)] for side in ("metricdag", "launched", "pandas")}
    sides["forkserver"] = [measure("forkserver", day)]  # one sample: it is the slow side
    secs = {s: statistics.median(m["seconds"] for m in runs) for s, runs in sides.items()}
    mem = {s: statistics.median(m["peak_mib"] for m in runs) for s, runs in sides.items()}
    ratio = secs["metricdag"] / secs["pandas"]
    return [
        Result(f"daily_net_sales end to end, {rows:,} POS rows (wall)", round(secs["metricdag"], 2), "s",
               "plain pandas script", round(secs["pandas"], 2), round(ratio, 2), "<= 1.3x", ratio <= 1.3),
        Result("  peak memory of that process", round(mem["metricdag"]), "MiB", "plain pandas script",
               round(mem["pandas"]), round(mem["metricdag"] / mem["pandas"], 2)),
        *launched_rows(rows, secs, executor_spec(load_metric(ROOT / "metrics" / "daily_net_sales", ROOT), env).label),
    ]


def launched_rows(rows: int, secs: dict[str, float], executor: str) -> list[Result]:
    """The launched run beside the in-process run and beside the pandas script, from the same run."""
    in_process, script = secs["launched"] / secs["metricdag"], secs["launched"] / secs["pandas"]
    forkserver = secs["forkserver"] / secs["launched"]
    return [
        Result(f"daily_net_sales launched ({executor} executor), {rows:,} POS rows (wall)", round(secs["launched"], 2), "s",
               "the same, in process", round(secs["metricdag"], 2), round(in_process, 2), "<= 1.3x", in_process <= 1.3),
        Result("  the same launched run", round(secs["launched"], 2), "s", "plain pandas script",
               round(secs["pandas"], 2), round(script, 2), "<= 1.3x at 1,000,000 rows",
               script <= 1.3 if rows >= 1_000_000 else None),
        Result("  launched with multiprocess (forkserver, max_concurrent=2) instead", round(secs["forkserver"], 2), "s",
               f"launched with {executor}", round(secs["launched"], 2), round(forkserver, 2)),
    ]


if __name__ == "__main__":
    side, day = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    {"metricdag": with_metricdag, "launched": launched, "forkserver": launched_forkserver, "pandas": with_pandas}[side](day)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
