"""A throw-away copy of ``daily_net_sales`` under another name, for end-to-end review tests.

The copy has its own asset keys (so its own object-store folders) and its own Snowflake table;
its ``net_sales`` node is replaced by a wrapper module that alters the real node's output on
chosen days. Only the ``net_sales_daily`` branch is materialized.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import dagster as dg

from metricdag.factory import build_metric_definitions, job_name
from metricdag.settings import Environment
from metricdag.warehouse import run_query
from tests.conftest import copy_project

BRANCH = [
    ("sourcing", "pos_transactions"),
    ("sourcing", "stores"),
    ("sourcing", "fx_rates"),
    ("preprocessing", "pos_transactions_clean"),
    ("metric_calculation", "net_sales_daily"),
    ("review", "net_sales_daily"),
    ("persisted", "net_sales_daily"),
]


def branch(metric: str) -> list[dg.AssetKey]:
    """The asset keys of the ``net_sales_daily`` branch of ``metric``."""
    return [dg.AssetKey([metric, layer, dataset]) for layer, dataset in BRANCH]


def make_probe(
    tmp_path: Path, metric: str, table: str, edits: Iterable[tuple[str, str]] = (),
    node: tuple[str, str] | None = None,
) -> tuple[Path, Path]:
    """A project holding ``metric``: daily_net_sales renamed, persisting into ``table``, with
    ``edits`` (old, new) applied to its metric.yaml and, given ``node`` = (module, source), its
    net_sales node replaced by that module. Returns (project root, metric folder)."""
    project = copy_project(tmp_path, ["daily_net_sales"])
    folder = project / "metrics" / metric
    shutil.move(project / "metrics" / "daily_net_sales", folder)
    replace_node = []
    if node is not None:
        module, source = node
        (folder / "metric_calculation" / "net_sales" / "src" / f"{module}.py").write_text(source)
        replace_node = [("net_sales/src/net_sales.py:run", f"net_sales/src/{module}.py:run")]
    text = (folder / "metric.yaml").read_text()
    for old, new in [
        ("name: daily_net_sales", f"name: {metric}"),
        *replace_node,
        ("table: METRICS.NET_SALES_DAILY", f"table: {table}"),
        *edits,
    ]:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "metric.yaml").write_text(text)
    return project, folder


def run_days(folder: Path, env: Environment, metric: str, days: Sequence[date]) -> dict[date, tuple]:
    """Each day's branch run in process, in order: day -> (result, check evaluations by name)."""
    job = build_metric_definitions(folder, env).resolve_job_def(job_name(metric))
    instance = dg.DagsterInstance.ephemeral()
    runs = {}
    for day in days:
        result = job.execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False, asset_selection=branch(metric)
        )
        evaluations = {
            e.event_specific_data.check_name: e.event_specific_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }
        runs[day] = (result, evaluations)
    return runs


def persisted_days(env: Environment, table: str) -> set[str]:
    """The partitions ``table`` holds (none before its first load)."""
    try:
        _, rows = run_query(env.snowflake, f"SELECT DISTINCT business_date FROM {table}")
    except Exception as exc:  # the table does not exist before the first load
        if "does not exist" in str(exc):
            return set()
        raise
    return {str(r[0]) for r in rows}
