"""``metricdag test-node``: one node's snapshot test, from catalog lookup to diff report.

1. read ``tests/test_config.yaml`` (``path:line`` errors) and the test environment;
2. ``GET /snapshots`` from the catalog; download every input and baseline snapshot and verify
   checksum, size and schema -- all before anything runs;
3. create a scratch schema in the test environment's Snowflake, load the inputs, read them back;
4. run the node (python, java or scala: the platform's one node runner);
5. drop the scratch schema (also on failure or interrupt); diff each output with its baseline;
6. write ``reports/node-tests/<metric>/<node>/{report.txt,junit.xml,report.html}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from metricdag.catalog.client import CatalogClient, SnapshotNotFoundError
from metricdag.catalog.models import canonical_version
from metricdag.catalog.snapshots import SnapshotDataset, SnapshotsResponse
from metricdag.changes.frame_diff import ColumnTolerance, diff_frames
from metricdag.changes.report import NodeReport, write_reports
from metricdag.errors import MetricdagError
from metricdag.nodes.context import NodeContext
from metricdag.nodes.execute import run_node
from metricdag.settings import Environment, find_project_root, load_environment
from metricdag.spec.node_tests import (
    NodeUnderTest,
    SnapshotUse,
    TestEnvironmentSpec,
    load_node_under_test,
    load_test_environment,
)
from metricdag_testing.scratch import scratch_schema
from metricdag_testing.snapshots import VerifiedSnapshot, fetch_verified

log = logging.getLogger("metricdag.testing")

NodeRunner = Callable[..., dict[str, pd.DataFrame]]
REPORTS_DIR = Path("reports") / "node-tests"


@dataclass(frozen=True)
class TestSetup:
    nut: NodeUnderTest
    test_env: TestEnvironmentSpec
    env: Environment
    client: CatalogClient


@dataclass
class NodeTestResult:
    report: NodeReport
    paths: dict[str, Path]
    scratch_schemas: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.report.passed


def prepare(node_folder: Path, project_root: Path | None = None) -> TestSetup:
    root = project_root or find_project_root()
    nut = load_node_under_test(node_folder, root)
    test_env = load_test_environment(nut.config.test_environment, root)
    env = load_environment(test_env.environment, root)
    return TestSetup(nut, test_env, env, CatalogClient.for_environment(env))


def bootstrap_hint(setup: TestSetup) -> str:
    return f"run `metricdag snapshot bootstrap {setup.nut.folder}` to publish its snapshots and register its config"


def catalog_snapshots(setup: TestSetup) -> SnapshotsResponse:
    """``GET /snapshots`` for the node's test; a node the catalog does not know yet says how to fix it."""
    cfg = setup.nut.config
    try:
        return setup.client.snapshots(cfg.node_name, cfg.test_environment)
    except SnapshotNotFoundError as exc:
        raise MetricdagError(f"{exc}: {bootstrap_hint(setup)}") from None


def _pick(
    uses: Sequence[SnapshotUse], offered: Sequence[SnapshotDataset], client: CatalogClient, role: str, label: str
) -> list[tuple[SnapshotUse, SnapshotDataset]]:
    by_id = {s.dataset_id: s for s in offered}
    picked = []
    for use in uses:
        snap = by_id.get(use.dataset_id)
        if snap is None:
            raise MetricdagError(
                f"{label}: the catalog's snapshot config has no {role} {use.dataset_id!r} "
                f"(it has: {', '.join(by_id) or 'none'}); run `metricdag snapshot bootstrap` or register the config"
            )
        if use.version is not None and snap.version_key != canonical_version(use.version):
            snap = client.snapshot_dataset(use.dataset_id, use.version)
        picked.append((use, snap))
    return picked


def fetch_snapshots(setup: TestSetup) -> tuple[list[tuple[SnapshotUse, VerifiedSnapshot]], list[tuple[SnapshotUse, VerifiedSnapshot]]]:
    """Every input and baseline of the node's test, downloaded and verified."""
    cfg = setup.nut.config
    answer = catalog_snapshots(setup)
    label = f"node {cfg.node_name!r} in test environment {cfg.test_environment!r}"
    inputs = _pick(cfg.snapshots.inputs, answer.snapshots.inputs, setup.client, "input", label)
    baselines = _pick(cfg.snapshots.baseline_outputs, answer.snapshots.baseline_outputs, setup.client, "baseline output", label)
    return (
        [(u, fetch_verified(setup.env, s)) for u, s in inputs],
        [(u, fetch_verified(setup.env, s)) for u, s in baselines],
    )


def run_in_scratch(
    setup: TestSetup,
    inputs: Sequence[tuple[SnapshotUse, VerifiedSnapshot]],
    schemas: dict,
    *,
    jvm_cache: Path | None = None,
    node_runner: NodeRunner = run_node,
    scratch_names: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Load the inputs into a fresh scratch schema, run the node on them, drop the schema."""
    nut = setup.nut
    with scratch_schema(
        setup.env.snowflake, prefix=setup.test_env.schema_prefix, node=nut.node.name, database=setup.test_env.database
    ) as scratch:
        if scratch_names is not None:
            scratch_names.append(scratch.schema)
        frames = {}
        for use, snap in inputs:
            scratch.load(use.logical_name, snap.frame)
            frames[use.logical_name] = scratch.read(use.logical_name, snap.snapshot.schema_)
        if nut.node.is_sql and node_runner is run_node:  # runs on the loaded tables, in the scratch schema
            from metricdag_testing.sql_nodes import run_sql_in_schema

            tables = {use.logical_name: snap.snapshot.schema_ for use, snap in inputs}
            return run_sql_in_schema(setup.env.snowflake, scratch, nut.metric.folder, nut.node, tables, schemas,
                                     nut.config.partition_date)
        ctx = NodeContext(nut.metric.name, nut.node.name, nut.config.partition_date, dict(nut.node.params), log)
        return node_runner(nut.metric.folder, nut.node, frames, ctx, schemas, jvm_cache=jvm_cache)


def run_node_test(
    node_folder: Path,
    *,
    project_root: Path | None = None,
    reports_dir: Path | None = None,
    jvm_cache: Path | None = None,
    node_runner: NodeRunner = run_node,
) -> NodeTestResult:
    """Run one node's snapshot test and write its reports; config errors raise, the rest is reported."""
    setup = prepare(Path(node_folder), project_root)
    nut = setup.nut
    started = time.perf_counter()
    scratch_names: list[str] = []
    used: list[str] = []
    diffs = []
    error = None
    try:
        inputs, baselines = fetch_snapshots(setup)
        used = [s.label for _, s in (*inputs, *baselines)]
        schemas = {u.logical_name: s.snapshot.schema_ for u, s in baselines}
        outputs = run_in_scratch(
            setup, inputs, schemas, jvm_cache=jvm_cache, node_runner=node_runner, scratch_names=scratch_names
        )
        for use, snap in baselines:
            key = use.key or snap.snapshot.schema_.key
            tolerances = {c: ColumnTolerance(t.abs, t.rel) for c, t in use.tolerances().items()}
            diffs.append(diff_frames(snap.frame, outputs[use.logical_name], key, tolerances, dataset=use.logical_name))
    except MetricdagError as exc:
        error = str(exc)
    except Exception as exc:  # the node's own code failed: a failing test, not a crash of the framework
        error = f"node {nut.node.name!r} failed: {type(exc).__name__}: {exc}"
    report = NodeReport(nut.metric.name, nut.node.name, diffs, error, used, time.perf_counter() - started)
    root = project_root or setup.env.project_root
    folder = (reports_dir or root / REPORTS_DIR) / nut.metric.name / nut.node.name
    return NodeTestResult(report, write_reports(report, folder), scratch_names)


@dataclass
class PublishReport:
    """What ``snapshot publish`` did: the new baseline versions, and the baselines the node's
    output already equals (nothing published for those)."""

    published: list[SnapshotDataset] = field(default_factory=list)
    unchanged: list[SnapshotDataset] = field(default_factory=list)


def same_rows(baseline: VerifiedSnapshot, output: pd.DataFrame, key: Sequence[str]) -> bool:
    """The output is the baseline: the same rows by key, every value exactly equal."""
    return diff_frames(baseline.frame, output, list(key), {}, dataset=baseline.snapshot.dataset_id).passed


def publish_node_baselines(
    node_folder: Path,
    *,
    project_root: Path | None = None,
    outputs: Sequence[str] = (),
    jvm_cache: Path | None = None,
) -> PublishReport:
    """Run the node on its (verified) input snapshots and publish each output that differs from
    the baseline its test uses as the next version of that snapshot dataset; an identical output
    publishes nothing. ``outputs``: only these node outputs (default: all)."""
    from metricdag_testing.publish import next_version, publish_frame

    setup = prepare(Path(node_folder), project_root)
    cfg = setup.nut.config
    label = f"node {cfg.node_name!r} in test environment {cfg.test_environment!r}"
    unknown = sorted(set(outputs) - {u.logical_name for u in cfg.snapshots.baseline_outputs})
    if unknown:
        raise MetricdagError(f"{label}: no baseline output named {', '.join(unknown)} in {setup.nut.config_path}")
    answer = catalog_snapshots(setup)
    inputs = [(u, fetch_verified(setup.env, s)) for u, s in _pick(cfg.snapshots.inputs, answer.snapshots.inputs, setup.client, "input", label)]
    baselines = _pick(cfg.snapshots.baseline_outputs, answer.snapshots.baseline_outputs, setup.client, "baseline output", label)
    baselines = [(u, s) for u, s in baselines if not outputs or u.logical_name in outputs]
    schemas = {u.logical_name: s.schema_ for u, s in baselines}
    produced = run_in_scratch(setup, inputs, schemas, jvm_cache=jvm_cache)
    report = PublishReport()
    for use, current in baselines:
        frame = produced[use.logical_name]
        if same_rows(fetch_verified(setup.env, current), frame, use.key or current.schema_.key):
            report.unchanged.append(current)
            continue
        latest = setup.client.snapshot_dataset(use.dataset_id)
        report.published.append(
            publish_frame(
                setup.env, setup.client, use.dataset_id, next_version(latest.version), frame, current.schema_, current.format,
            )
        )
    return report
