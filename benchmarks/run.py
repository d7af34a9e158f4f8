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
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Result, isolated_stack  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
BACKFILL_DAYS = int(os.environ.get("BENCH_BACKFILL_DAYS", "30"))
BACKFILL_ROWS = int(os.environ.get("BENCH_BACKFILL_ROWS", "2000"))
SAMPLE_ROWS = 20_000  # the sample size: the launched run is also measured here, where start-up costs show most


FAILED: list[str] = []  # the benchmarks that raised: the others still run and are reported


def section(name: str, bench) -> list[Result]:
    """``bench()``'s rows; when it raises, its traceback on stderr, ``name`` in FAILED and no rows."""
    try:
        return bench()
    except Exception:
        traceback.print_exc()
        FAILED.append(name)
        return []


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

    def stacked(rows: int, *benches):
        with isolated_stack() as env:
            seed(env, rows_per_day=rows, days=1)
            return [r for bench in benches for r in section(bench.__name__, lambda: bench(env))]

    def backfill():
        with isolated_stack() as env:  # its own data: BACKFILL_DAYS days ending at the sample date
            return backfill_bench.run(env, days=BACKFILL_DAYS, rows_per_day=BACKFILL_ROWS)

    def diff():
        figures = diff_bench.run(rows=ROWS)
        return [Result(
            f"snapshot diff, {figures['rows']:,} x {figures['columns']} ({figures['changed_values']} changed values)",
            figures["metricdag_s"], "s", f"datacompy {figures['datacompy_version']}", figures["datacompy_s"],
            round(figures["metricdag_s"] / figures["datacompy_s"], 2), ">= 2x faster (ratio <= 0.5)",
            figures["speedup"] >= 2,
        )]

    def e2e_run(env):
        return e2e.run(env, ROWS)

    def persist_run(env):
        return persist.run(env, ROWS)

    def sensor_run(env):
        return sensor_bench.run(env, events=10_000)

    def e2e_sample(env):
        return e2e.run(env, SAMPLE_ROWS)

    results = section("defs_load", defs_load.run)
    results += section("stack", lambda: stacked(ROWS, e2e_run, persist_run, sensor_run))
    if ROWS != SAMPLE_ROWS:
        results += section("stack at the sample size", lambda: stacked(SAMPLE_ROWS, e2e_sample))
    results += section("backfill", backfill)
    results += section("jvm", lambda: jvm_bench.run(ROWS))
    results += section("sql_nodes", sql_nodes.run)  # its own stack: it seeds each of its sizes (BENCH_SQL_ROWS)
    results += section("diff", diff)
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
                               "started": started, "results": rows, "failed": FAILED}, indent=2))
    print(f"written {out}")
    if FAILED:
        print(f"failed (no rows, traceback above): {', '.join(FAILED)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
