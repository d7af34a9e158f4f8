"""The testing framework's commands: ``metricdag test-node`` and ``metricdag snapshot publish|bootstrap``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _jvm_cache() -> Path | None:
    value = os.environ.get("METRICDAG_JVM_CACHE")
    return Path(value) if value else None


def cmd_test_node(args: argparse.Namespace) -> int:
    from metricdag.changes.report import render_text
    from metricdag_testing.node_test import run_node_test

    failed = 0
    for folder in args.node_dirs:
        result = run_node_test(
            Path(folder), reports_dir=Path(args.reports) if args.reports else None, jvm_cache=_jvm_cache()
        )
        print(render_text(result.report), end="")
        print(f"reports: {', '.join(str(p) for p in result.paths.values())}\n")
        failed += not result.passed
    return 1 if failed else 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from metricdag.settings import load_environment

    if args.action == "publish":
        from metricdag_testing.node_test import publish_node_baselines

        if len(args.node_dirs) != 1:
            print("error: snapshot publish needs exactly one node folder", file=sys.stderr)
            return 2
        result = publish_node_baselines(Path(args.node_dirs[0]), outputs=args.output or (), jvm_cache=_jvm_cache())
        for snap in result.unchanged:
            print(f"unchanged: {snap.dataset_id} version {snap.version} already is the node's output; nothing published")
        for snap in result.published:
            print(f"published {snap.dataset_id} version {snap.version} ({snap.checksum}, {snap.size_bytes} bytes) at {snap.storage_location}")
        if result.published:
            print("the node's tests now compare with these versions (configs that pin a version: update it in tests/test_config.yaml)")
        return 0
    from metricdag_testing.bootstrap import bootstrap

    report = bootstrap(load_environment(), folders=[Path(f) for f in args.node_dirs], jvm_cache=_jvm_cache())
    print(f"snapshots published: {', '.join(report.published) or 'none'}; already present: {', '.join(report.present) or 'none'}")
    print(f"node snapshot configs registered: {', '.join(report.registered) or 'none'}")
    if report.untested:
        print(f"nodes without tests/test_config.yaml (no snapshot test): {', '.join(report.untested)}")
    return 0


def register(subparsers) -> None:
    t = subparsers.add_parser("test-node", help="a node's snapshot test: catalog snapshots, scratch schema, diff report")
    t.add_argument("node_dirs", nargs="+", metavar="NODE_DIR", help="node folder(s) holding tests/test_config.yaml")
    t.add_argument("--reports", help="reports folder (default: reports/node-tests)")
    t.set_defaults(fn=cmd_test_node)

    s = subparsers.add_parser("snapshot", help="snapshot datasets: publish a node's output as its new baseline; bootstrap every node's snapshots and config")
    s.add_argument("action", choices=["publish", "bootstrap"])
    s.add_argument(
        "node_dirs", nargs="*", metavar="NODE_DIR",
        help="publish: the node folder; bootstrap: only these node folders (default: every node with tests/test_config.yaml)",
    )
    s.add_argument("--output", action="append", help="publish: only this node output (repeatable)")
    s.set_defaults(fn=cmd_snapshot)
