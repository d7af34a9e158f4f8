"""``metricdag version``: a metric's current version and what went into it."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate


def register(subparsers) -> None:
    v = subparsers.add_parser("version", help="a metric's version: a hash of everything that changes its output")
    v.add_argument("metric", help="metric name (a folder under metrics/)")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.set_defaults(fn=cmd_version)


def cmd_version(args: argparse.Namespace) -> int:
    from metricdag.settings import find_project_root
    from metricdag.spec.loader import load_metric_named
    from metricdag.versioning import metric_version

    root = find_project_root()
    version = metric_version(load_metric_named(args.metric, root))
    if args.json:
        print(json.dumps(version.as_dict(), indent=2))
        return 0
    print(f"{version.metric} {version.version}")
    print(tabulate([(p.kind, p.name, p.digest) for p in version.parts], headers=["part", "name", "digest"]))
    return 0
