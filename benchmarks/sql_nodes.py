"""SQL nodes vs pandas nodes: daily_net_sales_sql (cleaning and net sales in the warehouse) vs
daily_net_sales' same path (pandas), end to end into Snowflake, at several POS sizes.

Each side runs the metric in process (``execute_in_process``: the Dagster step process is the
measured process) in its own child process, so its peak RSS (``resource.getrusage``) is that run's
alone; imports and definitions load count on both sides. The SQL path's peak must stay flat as the
rows grow (no row of the day passes through it); the pandas path's grows with them.
Sizes: BENCH_SQL_ROWS (default "1000000,10000000"); ``python benchmarks/sql_nodes.py`` runs it alone.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Result, isolated_stack  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_SQL_ROWS", "1000000,10000000").split(",")]
PANDAS_SELECTION = [
    "daily_net_sales/sourcing/pos_transactions", "daily_net_sales/sourcing/stores", "daily_net_sales/sourcing/fx_rates",
    "daily_net_sales/preprocessing/pos_transactions_clean", "daily_net_sales/metric_calculation/net_sales_daily",
    "daily_net_sales/review/net_sales_daily", "daily_net_sales/persisted/net_sales_daily",
]
METRICS = {"sql": ("daily_net_sales_sql", None), "pandas": ("daily_net_sales", PANDAS_SELECTION)}


def materialize(side: str, day: str) -> None:
    """One side's run of one day, in this process (as the in-process executor runs every step)."""
    import dagster as dg

    from metricdag.catalog.client import CatalogClient
    from metricdag.factory import build_metric_definitions, job_name
    from metricdag.factory.lock_tags import resolve_lock_tags
    from metricdag.settings import load_environment
    from metricdag.spec.loader import load_metric

    metric, selection = METRICS[side]
    env = load_environment("local", ROOT)
    folder = ROOT / "metrics" / metric
    job = build_metric_definitions(folder, env).resolve_job_def(job_name(metric))
    tags = resolve_lock_tags(CatalogClient.for_environment(env), load_metric(folder, ROOT).spec.catalog_datasets())
    result = job.execute_in_process(
        partition_key=day, instance=dg.DagsterInstance.ephemeral(), tags=tags,
        asset_selection=[dg.AssetKey.from_user_string(k) for k in selection] if selection else None,
    )
    assert result.success


def measure(side: str, day: str) -> dict:
    out = subprocess.run([sys.executable, __file__, side, day], capture_output=True, text=True, cwd=ROOT / "benchmarks")
    if out.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(sizes: list[int] | None = None, repeat: int = 1) -> list[Result]:
    """Seed each size into one day of an isolated stack, then run both sides on it."""
    from metricdag_localstack.seed import seed

    sizes = sizes or SIZES
    figures: dict[int, dict[str, dict[str, float]]] = {}
    with isolated_stack() as env:
        day = env.localstack.sample.end_date.isoformat()
        for rows in sizes:
            seed(env, rows_per_day=rows, days=1)
            runs = {side: [measure(side, day) for _ in range(repeat)] for side in METRICS}
            figures[rows] = {side: {"seconds": statistics.median(m["seconds"] for m in r),
                                    "peak_mib": statistics.median(m["peak_mib"] for m in r)} for side, r in runs.items()}
    results: list[Result] = []
    for rows, f in figures.items():
        sql, pandas = f["sql"], f["pandas"]
        results += [
            Result(f"net sales with SQL nodes (daily_net_sales_sql), {rows:,} POS rows (wall)", round(sql["seconds"], 2),
                   "s", "pandas nodes (daily_net_sales)", round(pandas["seconds"], 2),
                   round(sql["seconds"] / pandas["seconds"], 2)),
            Result("  peak RSS of the step process", round(sql["peak_mib"]), "MiB", "pandas nodes",
                   round(pandas["peak_mib"]), round(sql["peak_mib"] / pandas["peak_mib"], 2)),
        ]
    if len(figures) >= 2:
        low, high = min(figures), max(figures)
        growth = {side: figures[high][side]["peak_mib"] / figures[low][side]["peak_mib"] for side in METRICS}
        results.append(Result(
            f"  SQL path peak RSS at {high:,} rows vs {low:,}", round(figures[high]["sql"]["peak_mib"]), "MiB",
            f"the same at {low:,} rows", round(figures[low]["sql"]["peak_mib"]), round(growth["sql"], 2),
            "flat (<= 1.15x)", growth["sql"] <= 1.15,
        ))
        results.append(Result(
            f"  pandas path peak RSS at {high:,} rows vs {low:,}", round(figures[high]["pandas"]["peak_mib"]), "MiB",
            f"the same at {low:,} rows", round(figures[low]["pandas"]["peak_mib"]), round(growth["pandas"], 2),
        ))
    return results


def main() -> int:
    from tabulate import tabulate

    rows = [r.row() for r in run()]
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=",.3f"))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3:
        side, day = sys.argv[1], sys.argv[2]
        t0 = time.perf_counter()
        materialize(side, day)
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    else:
        sys.exit(main())
