"""`make bench`: every benchmark, one table, each figure beside its comparison.

Figures are measured in the same run as their comparison (these machines are noisy), as
medians of several runs where a run is cheap. Results are also written to
reports/bench.json so they can be compared across commits. Size: BENCH_ROWS (default 1M; the
end-to-end rows are also measured at the 20,000-row sample size); the
backfill row has its own stack with BENCH_BACKFILL_DAYS (default 30) days of
BENCH_BACKFILL_ROWS (default 2,000) POS rows; the SQL-node comparison runs at BENCH_SQL_ROWS
(default 1M and 10M).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Result, isolated_stack  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
BACKFILL_DAYS = int(os.environ.get("BENCH_BACKFILL_DAYS", "30"))
BACKFILL_ROWS = int(os.environ.get("BENCH_BACKFILL_ROWS", "2000"))
SAMPLE_ROWS = 20_000  # the sample size: the launched run is also measured here, where start-up costs show most


def collect() -> list[Result]:
    import backfill_bench
    import defs_load
    import diff_bench
    import e2e
    import jvm_bench
    import persist
    import sensor_bench
    import sql_nodes

    from metricdag_localstack.seed import seed

    results = defs_load.run()
    with isolated_stack() as env:
        seed(env, rows_per_day=ROWS, days=1)
        results += e2e.run(env, ROWS)
        results += persist.run(env, ROWS)
        results += sensor_bench.run(env, events=10_000)
    if ROWS != SAMPLE_ROWS:
        with isolated_stack() as env:
            seed(env, rows_per_day=SAMPLE_ROWS, days=1)
            results += e2e.run(env, SAMPLE_ROWS)
    with isolated_stack() as env:  # its own data: BACKFILL_DAYS days ending at the sample date
        results += backfill_bench.run(env, days=BACKFILL_DAYS, rows_per_day=BACKFILL_ROWS)
    results += jvm_bench.run(ROWS)
    results += sql_nodes.run()  # its own stack: it seeds each of its sizes (BENCH_SQL_ROWS)
    figures = diff_bench.run(rows=ROWS)
    results.append(Result(
        f"snapshot diff, {figures['rows']:,} x {figures['columns']} ({figures['changed_values']} changed values)",
        figures["metricdag_s"], "s", f"datacompy {figures['datacompy_version']}", figures["datacompy_s"],
        round(figures["metricdag_s"] / figures["datacompy_s"], 2), ">= 2x faster (ratio <= 0.5)",
        figures["speedup"] >= 2,
    ))
    return results


def main() -> int:
    from tabulate import tabulate

    started = time.time()
    results = collect()
    rows = [r.row() for r in results]
    print(tabulate(rows, headers={"benchmark": "benchmark", "value": "value", "unit": "unit", "baseline": "compared with",
                                  "baseline_value": "its value", "ratio": "ratio", "target": "target", "met": "met"},
                   tablefmt="github", floatfmt=",.3f"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    out = ROOT / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"commit": commit, "rows": ROWS, "machine": platform.machine(), "cpus": os.cpu_count(),
                               "backfill_days": BACKFILL_DAYS, "backfill_rows_per_day": BACKFILL_ROWS,
                               "started": started, "results": rows}, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
