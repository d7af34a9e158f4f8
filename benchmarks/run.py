"""`make bench`: speed and memory, printed as a table and written to reports/bench.json.

Runs on an isolated local stack (free ports, temp folder). Figures are medians of several
runs where a run is cheap; the end-to-end run is measured once per size.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))


def timed(fn, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> int:
    from tabulate import tabulate

    from metricdag.localstack.processes import free_port

    local = tempfile.mkdtemp(prefix="metricdag-bench-")
    os.environ.update(
        METRICDAG_LOCAL_DIR=local,
        METRICDAG_SNOWFLAKE_PORT=str(free_port()),
        METRICDAG_CATALOG_PORT=str(free_port()),
        METRICDAG_SNOWFLAKE_PASSWORD=os.environ.get("METRICDAG_SNOWFLAKE_PASSWORD", "bench"),
    )
    import dagster as dg

    from metricdag.factory import build_metric_definitions
    from metricdag.localstack import stack
    from metricdag.localstack.seed import seed
    from metricdag.runner import materialize_metric
    from metricdag.settings import load_environment

    env = load_environment("local", ROOT)
    folder = ROOT / "metrics" / "daily_net_sales"
    results = []
    load_s = timed(lambda: build_metric_definitions(folder, env))
    results.append({"benchmark": "definitions load: daily_net_sales", "value": round(load_s, 3), "unit": "s (median of 5)"})

    stack.up(env)
    try:
        t0 = time.perf_counter()
        report = seed(env, rows_per_day=ROWS, days=int(os.environ.get("BENCH_DAYS", "1")))
        results.append({"benchmark": f"seed {len(report.days)} day(s) x {ROWS:,} POS rows", "value": round(time.perf_counter() - t0, 2), "unit": "s"})
        day = env.localstack.sample.end_date.isoformat()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        ok, summary = materialize_metric(folder, env, day, dg.DagsterInstance.ephemeral())
        wall = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not ok:
            print(tabulate([vars(r) for r in summary], headers="keys"), file=sys.stderr)
            return 1
        results.append({"benchmark": f"daily_net_sales end to end, {ROWS:,} POS rows", "value": round(wall, 2), "unit": "s"})
        results.append({"benchmark": "  peak RSS of the run process", "value": round(peak_mb), "unit": f"MiB (before run: {rss_before // 1024})"})
        for row in summary:
            results.append({"benchmark": f"  step {row.asset}", "value": row.seconds, "unit": f"s, {row.rows} rows"})
    finally:
        stack.down(env)
    print(tabulate(results, headers="keys", tablefmt="github"))
    out = ROOT / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": ROWS, "results": results}, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
