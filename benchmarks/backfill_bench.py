"""A 30-partition backfill against 30 single-day launched runs of ``daily_net_sales`` (every step).

Both sides run on a real DagsterInstance (SQLite storage under a temp ``DAGSTER_HOME``, as
``dagster dev`` and the daemon use) with the metric's configured executor:

- *single-day launched runs*: what the schedule, the UI and a one-run-per-partition backfill
  launch: each run in its own process (as Dagster's run launcher starts a run worker per run),
  ``dg.execute_job`` of the reconstructable job for one partition, loading production in place.
- *backfill*: ``metricdag backfill daily_net_sales --from .. --to ..`` (one process): every
  partition's run in the same process, staged, then published in one transaction.

The data: ``days`` days of sample POS data at ``rows_per_day`` rows (default 2,000 a day, the
repository's smaller sample size; the fixed per-run cost is what this row measures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import ROOT, Result

METRIC = "daily_net_sales"
INSTANCE_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def _home() -> str:
    home = tempfile.mkdtemp(prefix="metricdag-bench-home-")
    Path(home, "dagster.yaml").write_text(INSTANCE_YAML)
    return home


def launched_day(day: str) -> None:
    """One launched run of every step for ``day`` on the instance at ``DAGSTER_HOME``."""
    import dagster as dg

    from e2e import daily_job

    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(dg.reconstructable(daily_job), instance=instance, tags={"dagster/partition": day})
        assert result.success


def _run(args: list[str], home: str) -> float:
    env = {**os.environ, "DAGSTER_HOME": home, "METRICDAG_HOME": str(ROOT)}
    t0 = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT / "benchmarks", env=env)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return seconds


def single_day_runs(days: list[date]) -> float:
    home = _home()
    return sum(_run([sys.executable, __file__, "launched", d.isoformat()], home) for d in days)


def backfill(days: list[date]) -> float:
    cli = str(Path(sys.executable).with_name("metricdag"))
    return _run([cli, "backfill", METRIC, "--from", days[0].isoformat(), "--to", days[-1].isoformat()], _home())


def run(env, days: int = 30, rows_per_day: int = 2000) -> list[Result]:
    """Seeds ``days`` days ending at the sample date, then measures both sides once each."""
    from metricdag_localstack.seed import seed

    seed(env, rows_per_day=rows_per_day, days=days)
    end = env.localstack.sample.end_date
    span = [end - timedelta(days=n) for n in range(days - 1, -1, -1)]
    singles = single_day_runs(span)
    ranged = backfill(span)
    ratio = ranged / singles
    return [
        Result(f"backfill of {days} partitions, {rows_per_day:,} POS rows a day (wall)", round(ranged, 2), "s",
               f"{days} single-day launched runs", round(singles, 2), round(ratio, 2), "<= 0.3x", ratio <= 0.3),
        Result("  per partition: backfill", round(ranged / days, 2), "s", "per single-day launched run",
               round(singles / days, 2), round(ratio, 2)),
    ]


if __name__ == "__main__":
    side, day = sys.argv[1], sys.argv[2]
    {"launched": launched_day}[side](day)
    print(json.dumps({"ok": True}))
