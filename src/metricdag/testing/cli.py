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
    from metricdag.testing.report import render_text
    from metricdag.testing.runner import run_node_test

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
        from metricdag.testing.runner import publish_node_baselines

        if not args.node_dir:
            print("error: snapshot publish needs a node folder", file=sys.stderr)
            return 2
        for snap in publish_node_baselines(Path(args.node_dir), outputs=args.output or (), jvm_cache=_jvm_cache()):
            print(f"published {snap.dataset_id} version {snap.version} ({snap.checksum}, {snap.size_bytes} bytes) at {snap.storage_location}")
        print("the node's tests now compare with these versions (configs that pin a version: update it in tests/test_config.yaml)")
        return 0
    from metricdag.testing.bootstrap import bootstrap

    report = bootstrap(load_environment(), jvm_cache=_jvm_cache())
    print(f"snapshots published: {', '.join(report.published) or 'none'}; already present: {', '.join(report.present) or 'none'}")
    print(f"node snapshot configs registered: {', '.join(report.registered)}")
    return 0


def register(subparsers) -> None:
    t = subparsers.add_parser("test-node", help="a node's snapshot test: catalog snapshots, scratch schema, diff report")
    t.add_argument("node_dirs", nargs="+", metavar="NODE_DIR", help="node folder(s) holding tests/test_config.yaml")
    t.add_argument("--reports", help="reports folder (default: reports/node-tests)")
    t.set_defaults(fn=cmd_test_node)

    s = subparsers.add_parser("snapshot", help="snapshot datasets: publish a node's output as its new baseline; bootstrap the examples")
    s.add_argument("action", choices=["publish", "bootstrap"])
    s.add_argument("node_dir", nargs="?", help="publish: the node folder")
    s.add_argument("--output", action="append", help="publish: only this node output (repeatable)")
    s.set_defaults(fn=cmd_snapshot)
