"""``metricdag diff``: the working tree's definition over a range, against the published rows.

    outcome = diff_metric(metric, env, date(2024, 6, 1), date(2024, 6, 3))
    outcome.verdict.ok        # the actual effect is the declared one (or nothing changed, nothing declared)

Production is only read: the definition runs into a scratch object-store prefix (deleted
afterwards), the persisted layer never runs, and the published rows are read with a SELECT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tabulate import tabulate

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.models import DatasetSchema
from metricdag.changes.compare import (
    PartitionDiff,
    Verdict,
    column_effects,
    diff_partition,
    evaluate,
    pct,
    relative_change,
    row_effects,
)
from metricdag.changes.frame_diff import ColumnTolerance
from metricdag.changes.published import published_partition
from metricdag.changes.report import NodeReport, write_reports
from metricdag.changes.scratch_run import PartitionRun, days_between, reviewed_output, run_range, scratch_area
from metricdag.errors import SpecError
from metricdag.settings import Environment
from metricdag.spec.loader import Metric
from metricdag.spec.node_tests import CONFIG_FILE, NodeTestConfig
from metricdag.yamlio import load_model

REPORTS_DIR = Path("reports") / "diff"


@dataclass(frozen=True)
class DiffOutcome:
    metric: str
    partitions: list[str]
    runs: list[PartitionRun]
    diffs: list[PartitionDiff]
    verdict: Verdict
    summary: str
    reports: dict[str, Path]

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict.ok else 1


def node_test_tolerances(metric: Metric, dataset: str) -> dict[str, ColumnTolerance]:
    """The tolerance the node tests use for ``dataset`` (its producing node's test_config.yaml), if any."""
    for layer, node in metric.spec.nodes():
        if dataset not in node.output_names:
            continue
        path = metric.folder / layer / node.name / CONFIG_FILE
        if not path.is_file():
            return {}
        try:
            config = load_model(NodeTestConfig, path)
        except SpecError:
            return {}  # the node test reports its own broken config
        for use in config.snapshots.baseline_outputs:
            if use.logical_name == dataset:
                return {c: ColumnTolerance(t.abs, t.rel) for c, t in use.tolerances().items()}
    return {}


def output_key(metric: Metric, dataset: str, schema: DatasetSchema | None) -> list[str]:
    declared = next((o.key for _, n in metric.spec.nodes() for o in n.outputs if o.dataset == dataset), [])
    return list(declared or (schema.key if schema else []))


def summary_table(diffs: list[PartitionDiff]) -> str:
    """Per partition, dataset and column: rows added/removed/changed and the change of the column's sum."""
    rows = []
    for d in diffs:
        r = d.result
        for column in r.columns:
            before, after = d.published_sums.get(column), d.new_sums.get(column)
            rel = None if before is None or after is None else relative_change(before, after)
            rows.append([
                d.partition, d.dataset, column, len(r.only_in_output), len(r.only_in_baseline), r.mismatches.get(column, 0),
                "" if before is None else f"{before:.6g}", "" if after is None else f"{after:.6g}",
                "" if before is None else pct(rel),
            ])
    for e in column_effects(diffs):
        rows.append([
            "all", e.dataset, e.column, "", "", e.changed_values,
            "" if e.published_total is None else f"{e.published_total:.6g}",
            "" if e.new_total is None else f"{e.new_total:.6g}",
            "" if e.published_total is None else pct(e.rel),
        ])
    headers = ["partition", "dataset", "column", "rows added", "rows removed", "values changed",
               "sum published", "sum new", "sum change"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def diff_metric(
    metric: Metric,
    env: Environment,
    start: date,
    end: date,
    reports_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> DiffOutcome:
    started = time.perf_counter()
    partitions = days_between(start, end)
    client = CatalogClient.for_environment(env)
    diffs: list[PartitionDiff] = []
    with scratch_area(env) as scratch:
        runs = run_range(scratch, metric, partitions, log=log)
        failed = [r for r in runs if not r.success]
        if not failed:
            for persist in metric.spec.persist:
                schema = client.resolve(persist.dataset).schema_
                key = output_key(metric, persist.dataset, schema)
                tolerances = node_test_tolerances(metric, persist.dataset)
                for day in partitions:
                    new = reviewed_output(scratch, metric, persist.dataset, day)
                    published = published_partition(env.snowflake, persist, day, schema)
                    if published is None:  # never published: every row is new
                        published = new.iloc[0:0]
                    diffs.append(diff_partition(persist.dataset, day, published, new, key, tolerances))
    if failed:
        problems = [f"partition {r.partition}: {line}" for r in failed for line in (r.failures or ["the run failed"])]
        verdict = Verdict(ok=False, changed=False, problems=problems,
                          headline="the working tree's definition did not get through review")
    elif not metric.spec.persist:
        verdict = Verdict(ok=True, changed=False, matched=["the metric persists nothing: nothing to compare"])
    else:
        verdict = evaluate(column_effects(diffs), row_effects(diffs), metric.spec.change)
    summary = "\n".join([
        f"working tree vs published, partitions {partitions[0]} .. {partitions[-1]}"
        + (f"; declared change: {metric.spec.change.description}" if metric.spec.change and metric.spec.change.description else ""),
        summary_table(diffs) if diffs else "(nothing compared)",
        "",
        verdict.message,
    ])
    report = NodeReport(
        metric=metric.name,
        node=f"{partitions[0]}..{partitions[-1]}",
        diffs=[d.result for d in diffs],
        error=None if verdict.ok else verdict.message,
        seconds=time.perf_counter() - started,
        title="diff",
        suite="metric-diff",
        summary=summary,
        accepted=frozenset(d.result.dataset for d in diffs) if verdict.ok else frozenset(),
    )
    folder = (reports_dir or env.project_root / REPORTS_DIR) / metric.name
    paths = write_reports(report, folder)
    return DiffOutcome(metric.name, partitions, runs, diffs, verdict, summary, paths)
