"""Snapshot-diff benchmark: metricdag's diff beside datacompy's on the same data.

Two tables of 1,000,000 rows x 10 columns (a two-column key, floats, integers, strings, a
date), a few hundred changed values, a few rows only on one side. Medians of 3 runs.
Run alone (``.venv/bin/python benchmarks/diff_bench.py``) or from ``make bench``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import median_seconds

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("BENCH_DIFF_ROWS", "1000000"))
REPEAT = 3


def tables(rows: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    base = pd.DataFrame(
        {
            "store_id": np.char.add("S", (np.arange(rows) % 1000).astype(str)).astype(object),
            "line_id": np.arange(rows) // 1000,
            "quantity": rng.integers(-5, 50, rows),
            "unit_price": np.round(rng.lognormal(2.5, 0.9, rows), 2),
            "discount": np.round(rng.random(rows) * 3, 2),
            "amount": np.round(rng.normal(100, 40, rows), 4),
            "ratio": rng.random(rows),
            "currency": rng.choice(np.array(["USD", "EUR", "GBP", "CAD", "JPY"], dtype=object), rows),
            "region": rng.choice(np.array(["North America", "Europe", "Asia Pacific"], dtype=object), rows),
            "business_date": pd.Timestamp("2024-06-03") + pd.to_timedelta(rng.integers(0, 7, rows), unit="D"),
        }
    )
    out = base.copy()
    changed = rng.choice(rows, 300, replace=False)
    out.loc[changed[:100], "amount"] += 1.0
    out.loc[changed[100:200], "quantity"] += 1
    out.loc[changed[200:], "currency"] = "XXX"
    out.loc[out.index[:5], "ratio"] += 1e-9  # within tolerance
    out = out.drop(index=out.index[-20:]).sample(frac=1.0, random_state=1).reset_index(drop=True)
    return base, out


def median_time(fn) -> float:
    return median_seconds(fn, REPEAT)


def run(rows: int = ROWS) -> dict:
    import datacompy

    from metricdag.changes.frame_diff import ColumnTolerance, diff_frames

    base, out = tables(rows)
    key = ["store_id", "line_id"]
    tol = {c: ColumnTolerance(abs=1e-6) for c in ("unit_price", "discount", "amount", "ratio")}
    result = diff_frames(base, out, key, tol, dataset="bench")
    ours = median_time(lambda: diff_frames(base, out, key, tol, dataset="bench"))
    compare = datacompy.PandasCompare(base, out, join_columns=key, abs_tol=1e-6)
    theirs = median_time(lambda: datacompy.PandasCompare(base, out, join_columns=key, abs_tol=1e-6))
    # Both must find the same differences, or the timing means nothing.
    assert len(result.only_in_baseline) == len(compare.df1_unq_rows) == 20, "only-in-baseline rows differ"
    assert result.changed_rows == len(compare.all_mismatch()), "changed rows differ"
    return {
        "rows": rows,
        "columns": base.shape[1],
        "changed_values": len(result.changed),
        "metricdag_s": round(ours, 3),
        "datacompy_s": round(theirs, 3),
        "datacompy_version": datacompy.__version__,
        "speedup": round(theirs / ours, 2),
    }


def main() -> int:
    figures = run()
    print(
        f"snapshot diff, {figures['rows']:,} rows x {figures['columns']} columns "
        f"({figures['changed_values']} changed values), median of {REPEAT}:\n"
        f"  metricdag  {figures['metricdag_s']:.3f} s\n"
        f"  datacompy  {figures['datacompy_s']:.3f} s  (datacompy {figures['datacompy_version']})\n"
        f"  metricdag is {figures['speedup']:.1f}x faster"
    )
    out = ROOT / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    data = json.loads(out.read_text()) if out.is_file() else {}
    data["snapshot_diff"] = figures
    out.write_text(json.dumps(data, indent=2))
    print(f"written {out} (key snapshot_diff)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
