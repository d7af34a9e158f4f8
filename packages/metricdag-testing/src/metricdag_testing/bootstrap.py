"""``metricdag snapshot bootstrap``: every node's snapshot datasets and snapshot config, made once.

For every node of every metric that has ``tests/test_config.yaml`` (or only the node folders
given), each snapshot id the config names that has no version yet is published as ``1.0.0``
with its sha256 and size, then the node's config is registered in the catalog. Idempotent: a
snapshot dataset that already has a version is left alone (``snapshot publish`` makes the next
baseline), and registering the same config again changes nothing.

Where a missing snapshot's rows come from, on the config's ``partition_date``:

- a **baseline output**: what the real node produces on its input snapshots;
- an **input**, the first that has it:
  1. another node's output for the same day (the node is run on its own input snapshots;
     ``pos_transactions_clean_sample`` is clean_pos_transactions' baseline and the input of
     net_sales, basket_stats and product_sales);
  2. locally, the deterministic sample of a source dataset (:mod:`metricdag_localstack.sample_data`);
  3. the input's data for that day as a run stored it: the asset's partition in the object store
     (``metricdag run --date D --metric M`` materializes it).

Published snapshots are always read back (and verified) rather than recomputed, so a baseline
is what the node makes of exactly the inputs its test will load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.conform import conform
from metricdag.catalog.snapshots import SnapshotRef
from metricdag.errors import MetricdagError
from metricdag.io.objectstore import env_store
from metricdag.nodes.context import NodeContext
from metricdag.nodes.execute import run_node
from metricdag.review.history import partition_reader
from metricdag.settings import Environment
from metricdag.spec.loader import discover_metric_folders, load_metric
from metricdag.spec.node_tests import CONFIG_FILE, NodeUnderTest, SnapshotUse, load_node_under_test
from metricdag_localstack import sample_data
from metricdag_testing.publish import latest_version, publish_frame
from metricdag_testing.snapshots import fetch_verified
from metricdag_testing.sql_nodes import ScratchTarget, in_scratch
from metricdag.spec.layers import REVIEW

log = logging.getLogger("metricdag.testing")

FIRST_VERSION = "1.0.0"
POS_ROWS = 300
INVENTORY_STORES = ("S001", "S002")
LOCAL_ENVIRONMENT = "local"

# Logical source dataset -> its local sample for one business day.
SOURCES: dict[str, Callable[[date], pd.DataFrame]] = {
    "pos_transactions": lambda day: sample_data.pos_transactions(POS_ROWS, day),
    "stores": lambda day: sample_data.stores(),
    "fx_rates": lambda day: sample_data.fx_rates(),
    "inventory_snapshots": lambda day: sample_data.inventory_snapshots(day)
    .query("store_id in @INVENTORY_STORES", local_dict={"INVENTORY_STORES": list(INVENTORY_STORES)})
    .reset_index(drop=True),
}


@dataclass
class BootstrapReport:
    published: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)  # nodes without tests/test_config.yaml


def node_folder(metric_folder: Path, layer: str, node: str) -> Path:
    """Where a node's tests live: ``metrics/<metric>/<layer>/<node>/``."""
    return metric_folder / layer / node


def node_folders(project_root: Path) -> list[Path]:
    """Every node folder that has ``tests/test_config.yaml``."""
    return sorted(p.parent.parent for p in (project_root / "metrics").glob(f"*/**/{CONFIG_FILE}"))


def untested_nodes(project_root: Path) -> list[str]:
    """``metric/node`` of every declared node without ``tests/test_config.yaml`` in its folder."""
    out = []
    for folder in discover_metric_folders(project_root):
        metric = load_metric(folder, project_root)
        for layer, node in metric.spec.nodes():
            if not (node_folder(folder, layer, node.name) / CONFIG_FILE).is_file():
                out.append(f"{metric.name}/{node.name}")
    return out


def bootstrap(
    env: Environment,
    *,
    folders: Sequence[Path] = (),
    jvm_cache: Path | None = None,
    client: CatalogClient | None = None,
) -> BootstrapReport:
    """Publish every missing snapshot of the nodes in ``folders`` (default: every node with a
    test config) and register their snapshot configs."""
    client = client or CatalogClient.for_environment(env)
    every = [load_node_under_test(f, env.project_root) for f in node_folders(env.project_root)]
    chosen = [load_node_under_test(Path(f), env.project_root) for f in folders] if folders else every
    report = BootstrapReport(untested=untested_nodes(env.project_root) if not folders else [])
    maker = _SnapshotMaker(env, client, every, jvm_cache)

    missing: dict[str, pd.DataFrame | None] = {}
    for nut in chosen:
        for use in nut.config.snapshots.inputs:
            if use.dataset_id not in missing and maker.published(use.dataset_id) is None:
                missing[use.dataset_id] = None
        for use in nut.config.snapshots.baseline_outputs:
            if use.dataset_id not in missing and maker.published(use.dataset_id) is None:
                missing[use.dataset_id] = None
    for nut in chosen:  # compute everything before publishing anything: no half-bootstrapped node
        for use in nut.config.snapshots.inputs:
            if use.dataset_id in missing and missing[use.dataset_id] is None:
                missing[use.dataset_id] = maker.input_frame(nut, use)
        for use in nut.config.snapshots.baseline_outputs:
            if use.dataset_id in missing and missing[use.dataset_id] is None:
                missing[use.dataset_id] = maker.outputs(nut)[use.logical_name]
    logical = {u.dataset_id: u.logical_name for n in chosen for u in (*n.config.snapshots.inputs, *n.config.snapshots.baseline_outputs)}
    for dataset_id, frame in missing.items():
        publish_frame(env, client, dataset_id, FIRST_VERSION, frame, maker.schema(logical[dataset_id]))
        report.published.append(dataset_id)
    report.present = sorted(set(logical) - set(missing))
    for nut in chosen:
        cfg = nut.config
        client.register_snapshot_config(
            cfg.node_name,
            cfg.test_environment,
            [SnapshotRef(dataset_id=u.dataset_id, version=u.version) for u in cfg.snapshots.inputs],
            [SnapshotRef(dataset_id=u.dataset_id, version=u.version) for u in cfg.snapshots.baseline_outputs],
        )
        report.registered.append(f"{cfg.node_name}@{cfg.test_environment}")
    return report


class _SnapshotMaker:
    """The rows of a node's input and output snapshots, each computed at most once."""

    def __init__(self, env: Environment, client: CatalogClient, nodes: list[NodeUnderTest], jvm_cache: Path | None):
        self.env, self.client, self.nodes, self.jvm_cache = env, client, nodes, jvm_cache
        self._published: dict[str, object] = {}
        self._frames: dict[str, pd.DataFrame] = {}
        self._outputs: dict[str, dict[str, pd.DataFrame]] = {}
        self._running: set[str] = set()
        self._schemas: dict = {}

    def published(self, dataset_id: str):
        if dataset_id not in self._published:
            self._published[dataset_id] = latest_version(self.client, dataset_id)
        return self._published[dataset_id]

    def schema(self, logical: str):
        if logical not in self._schemas:
            self._schemas[logical] = self.client.resolve(logical).schema_
        return self._schemas[logical]

    def input_frame(self, nut: NodeUnderTest, use: SnapshotUse) -> pd.DataFrame:
        if use.dataset_id in self._frames:
            return self._frames[use.dataset_id]
        day = nut.config.partition_date
        snap = self.published(use.dataset_id)
        if snap is not None:
            if use.version is not None:  # the version the node's test will load
                snap = self.client.snapshot_dataset(use.dataset_id, use.version)
            frame = fetch_verified(self.env, snap).frame
        else:
            frame = self._made_input(nut, use.logical_name, day)
        self._frames[use.dataset_id] = frame
        return frame

    def _made_input(self, nut: NodeUnderTest, logical: str, day: date) -> pd.DataFrame:
        producer = next(
            (n for n in self.nodes
             if n is not nut and logical in n.node.output_names and n.config.partition_date == day),
            None,
        )
        if producer is not None:
            return self.outputs(producer)[logical]
        if logical in SOURCES and self.env.name == LOCAL_ENVIRONMENT:
            return conform(SOURCES[logical](day), self.schema(logical), logical)
        asset = _input_asset_path(nut, logical)
        read = partition_reader(
            env_store(self.env),
            self.env.object_store_uri, self.env.name, asset,
        )
        stored = read(day)
        if stored is None:
            raise MetricdagError(
                f"{nut.config_path}: cannot make the input snapshot of {logical!r} for {day}: no published snapshot, "
                f"no node test producing it for that day, and asset {'/'.join(asset)} has no stored partition {day}; "
                f"materialize it first (`metricdag run --date {day} --metric {asset[0]}`) and run bootstrap again"
            )
        return conform(stored, self.schema(logical), logical)

    def outputs(self, nut: NodeUnderTest) -> dict[str, pd.DataFrame]:
        """What the real node produces on its input snapshots (published ones read back)."""
        if nut.label in self._outputs:
            return self._outputs[nut.label]
        if nut.label in self._running:
            raise MetricdagError(f"cannot bootstrap snapshots of {nut.label}: its inputs depend on its own output")
        self._running.add(nut.label)
        cfg = nut.config
        inputs = {u.logical_name: self.input_frame(nut, u) for u in cfg.snapshots.inputs}
        schemas = {name: self.schema(name) for name in nut.node.output_names}
        ctx = NodeContext(nut.metric.name, nut.node.name, cfg.partition_date, dict(nut.node.params), log)
        produced = run_node(nut.metric.folder, nut.node, inputs, ctx, schemas, jvm_cache=self.jvm_cache,
                            sql=in_scratch(ScratchTarget(self.env.snowflake)),  # a sql node: in this environment
                            input_schemas={u.logical_name: self.schema(u.logical_name) for u in cfg.snapshots.inputs})
        self._running.discard(nut.label)
        self._outputs[nut.label] = produced
        return produced


def _input_asset_path(nut: NodeUnderTest, logical: str) -> list[str]:
    """The asset a node input is read from: this metric's own, or another metric's reviewed output."""
    spec = nut.metric.spec
    source = next((s for s in spec.sourcing if s.dataset == logical), None)
    if source is not None and source.from_metric:
        return [source.from_metric, REVIEW, logical]
    return [nut.metric.name, spec.layer_of(logical), logical]
