"""Shared benchmark plumbing: an isolated local stack, medians, and result rows with ratios."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    benchmark: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None  # value / baseline_value: below 1 means faster than the baseline
    target: str = ""
    met: bool | None = None

    def row(self) -> dict:
        return asdict(self)


def median_seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


@contextmanager
def isolated_stack() -> Iterator:
    """The local environment on free ports in a temp folder, stack up for the block."""
    from metricdag.settings import load_environment
    from metricdag_localstack import stack
    from metricdag_localstack.processes import free_port

    local = tempfile.mkdtemp(prefix="metricdag-bench-")
    os.environ["METRICDAG_LOCAL_DIR"] = local
    for var in ("SNOWFLAKE", "CATALOG", "TOKEN", "LEGEND", "SMTP", "PAGERDUTY"):
        os.environ[f"METRICDAG_{var}_PORT"] = str(free_port())
    os.environ.setdefault("METRICDAG_SNOWFLAKE_PASSWORD", "bench")
    os.environ.setdefault("METRICDAG_CLIENT_SECRET", "bench-local-secret")
    env = load_environment("local", ROOT)
    stack.up(env)
    try:
        yield env
    finally:
        stack.down(env)
