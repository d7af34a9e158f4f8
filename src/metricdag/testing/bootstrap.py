"""``metricdag snapshot bootstrap``: the example nodes' snapshot datasets, made once and shared.

Inputs are small, deterministic samples from :mod:`metricdag.localstack.sample_data`; every
baseline is what the real node produces on its inputs, and a node's baseline may be another
node's input (``pos_transactions_clean_sample`` is clean_pos_transactions' baseline and the
input of net_sales, basket_stats and product_sales). Every node's ``tests/test_config.yaml``
says which snapshot ids it uses; each is published as version ``1.0.0`` with its sha256 and
size, then each node's config is registered in the catalog. Idempotent: a snapshot dataset
that already has a version is left alone (publish a new baseline with ``snapshot publish``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.conform import conform
from metricdag.catalog.snapshots import SnapshotRef
from metricdag.errors import MetricdagError
from metricdag.localstack import sample_data
from metricdag.nodes.context import NodeContext
from metricdag.nodes.runner import run_node
from metricdag.settings import Environment
from metricdag.testing.config import CONFIG_FILE, NodeUnderTest, load_node_under_test
from metricdag.testing.publish import latest_version, publish_frame

log = logging.getLogger("metricdag.testing")

FIRST_VERSION = "1.0.0"
POS_ROWS = 300
INVENTORY_STORES = ("S001", "S002")

# Logical source dataset -> its sample for one business day.
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


def node_folders(project_root: Path) -> list[Path]:
    return sorted(p.parent.parent for p in (project_root / "metrics").glob(f"*/**/{CONFIG_FILE}"))


def bootstrap(env: Environment, *, jvm_cache: Path | None = None, client: CatalogClient | None = None) -> BootstrapReport:
    client = client or CatalogClient.for_environment(env)
    nodes = [load_node_under_test(f, env.project_root) for f in node_folders(env.project_root)]
    uses = {}  # snapshot id -> (logical name, partition date)
    for nut in nodes:
        for use in (*nut.config.snapshots.inputs, *nut.config.snapshots.baseline_outputs):
            uses.setdefault(use.dataset_id, (use.logical_name, nut.config.partition_date))
    report = BootstrapReport()
    missing = [i for i in uses if latest_version(client, i) is None]
    report.present = sorted(set(uses) - set(missing))
    if missing:
        frames = _compute(nodes, uses, client, jvm_cache)
        for dataset_id in missing:
            logical = uses[dataset_id][0]
            schema = client.resolve(logical).schema_
            publish_frame(env, client, dataset_id, FIRST_VERSION, frames[dataset_id], schema)
            report.published.append(dataset_id)
    for nut in nodes:
        cfg = nut.config
        client.register_snapshot_config(
            cfg.node_name,
            cfg.test_environment,
            [SnapshotRef(dataset_id=u.dataset_id, version=u.version) for u in cfg.snapshots.inputs],
            [SnapshotRef(dataset_id=u.dataset_id, version=u.version) for u in cfg.snapshots.baseline_outputs],
        )
        report.registered.append(f"{cfg.node_name}@{cfg.test_environment}")
    return report


def _compute(
    nodes: list[NodeUnderTest], uses: dict[str, tuple[str, date]], client: CatalogClient, jvm_cache: Path | None
) -> dict[str, pd.DataFrame]:
    """Every snapshot's frame: sources from the generators, baselines by running the nodes in order."""
    frames: dict[str, pd.DataFrame] = {}
    for dataset_id, (logical, day) in uses.items():
        if logical in SOURCES:
            frames[dataset_id] = conform(SOURCES[logical](day), client.resolve(logical).schema_, logical)
    pending = list(nodes)
    while pending:
        ready = [n for n in pending if all(u.dataset_id in frames for u in n.config.snapshots.inputs)]
        if not ready:
            stuck = ", ".join(n.label for n in pending)
            raise MetricdagError(f"cannot bootstrap snapshots of {stuck}: some input is neither a sample source nor a baseline")
        for nut in ready:
            cfg = nut.config
            inputs = {u.logical_name: frames[u.dataset_id] for u in cfg.snapshots.inputs}
            schemas = {u.logical_name: client.resolve(u.logical_name).schema_ for u in cfg.snapshots.baseline_outputs}
            ctx = NodeContext(nut.metric.name, nut.node.name, cfg.partition_date, dict(nut.node.params), log)
            outputs = run_node(nut.metric.folder, nut.node, inputs, ctx, schemas, jvm_cache=jvm_cache)
            for u in cfg.snapshots.baseline_outputs:
                frames.setdefault(u.dataset_id, outputs[u.logical_name])
            pending.remove(nut)
    return frames
