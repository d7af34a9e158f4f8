"""``metricdag catalog list | show | publish | snapshots | refresh``: the catalog for people.

Every call is authenticated with the environment's OAuth client credentials (``auth:`` in
``pipeline-configs/environments/<env>.yaml``; the secret comes from the variable it names).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tabulate import tabulate

from metricdag.settings import Environment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="{list,show,publish,snapshots,refresh}")

    ls = sub.add_parser("list", help="datasets with their versions (or snapshot datasets with --snapshots)")
    ls.add_argument("--snapshots", action="store_true", help="list snapshot datasets instead")

    show = sub.add_parser("show", help="one dataset as this environment sees it: version, coordinates, schema")
    show.add_argument("name")
    show.add_argument("--version", help="a published version (default: the latest)")
    show.add_argument("--json", action="store_true", help="print the catalog's JSON answer")

    pub = sub.add_parser(
        "publish", help="publish the dataset versions in YAML files (same shape as pipeline-configs/catalog/)"
    )
    pub.add_argument("files", nargs="+", type=Path)
    pub.add_argument("--skip-existing", action="store_true", help="versions already published are not an error")

    snap = sub.add_parser("snapshots", help="the snapshot datasets one node's tests use (GET /snapshots)")
    snap.add_argument("--node", required=True, help="node name")
    snap.add_argument("--test-environment", required=True, help="e.g. dev_scratch_schema")
    snap.add_argument("--json", action="store_true", help="print the catalog's JSON answer")

    sub.add_parser("refresh", help="fill the on-disk cache that definitions load reads")


def run(args: argparse.Namespace, env: Environment) -> int:
    from metricdag.catalog.client import CatalogClient
    from metricdag.catalog.refresh import refresh_cache

    if args.action == "refresh":
        names = refresh_cache(env)
        print(f"cached {len(names)} dataset(s): {', '.join(names)}")
        return 0
    client = CatalogClient.for_environment(env)
    if args.action == "list":
        return _list(client, args.snapshots)
    if args.action == "show":
        return _show(client, args.name, args.version, args.json)
    if args.action == "publish":
        return _publish(client, args.files, args.skip_existing)
    return _snapshots(client, args.node, args.test_environment, args.json)


def _list(client, snapshots: bool) -> int:
    if snapshots:
        rows = [(s.dataset_id, s.latest_version, ", ".join(s.versions)) for s in client.list_snapshot_datasets()]
        headers = ["snapshot dataset", "latest", "versions"]
    else:
        rows = [(d["name"], d["latest_version"], ", ".join(d["versions"])) for d in client.list_datasets()]
        headers = ["dataset", "latest", "versions"]
    if not rows:
        print(f"the catalog at {client.base_url} has no {'snapshot ' if snapshots else ''}datasets yet")
        return 0
    print(tabulate(rows, headers=headers, tablefmt="github"))
    return 0


def _show(client, name: str, version: str | None, as_json: bool) -> int:
    ds = client.resolve(name, version)
    if as_json:
        print(ds.model_dump_json(by_alias=True, indent=2))
        return 0
    coords = ds.coordinates.model_dump(by_alias=True, exclude_none=True)
    kind = coords.pop("kind")
    print(f"{ds.name} {ds.version}  ({ds.environment})")
    for label, value in (
        ("owner", ds.owner),
        ("description", ds.description),
        ("published", ds.published_at.isoformat() if ds.published_at else ""),
        ("checksum", ds.checksum or ""),
        ("location", f"{kind}: " + ", ".join(f"{k}={v}" for k, v in coords.items())),
        ("key", ", ".join(ds.schema_.key)),
        ("partition column", ds.schema_.partition_column or ""),
    ):
        if value:
            print(f"  {label + ':':17} {value}")
    cols = [(c.name, c.type, "yes" if c.nullable else "no", c.description) for c in ds.schema_.columns]
    print(tabulate(cols, headers=["column", "type", "nullable", "description"], tablefmt="github"))
    return 0


def _publish(client, files: list[Path], skip_existing: bool) -> int:
    from metricdag.catalog.client import VersionExistsError
    from metricdag.catalog.seed import load_definitions

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 1
    failed = 0
    for defn in load_definitions(files):
        try:
            client.publish(defn)
        except VersionExistsError as exc:
            if skip_existing:
                print(f"skipped    {defn.name} {defn.version} (already published)")
                continue
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        print(f"published  {defn.name} {defn.version}")
    if failed:
        print(
            f"{failed} version(s) were already published and left unchanged (bump the version to change a dataset)",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _snapshots(client, node: str, test_environment: str, as_json: bool) -> int:
    answer = client.snapshots(node, test_environment)
    if as_json:
        print(json.dumps(answer.model_dump(mode="json", by_alias=True), indent=2))
        return 0
    rows = [
        (role, s.dataset_id, s.version, s.format, s.size_bytes, s.storage_location, s.checksum[:19] + "...")
        for role, items in (("input", answer.snapshots.inputs), ("baseline", answer.snapshots.baseline_outputs))
        for s in items
    ]
    print(f"node {answer.node_name}, test environment {answer.test_environment}")
    headers = ["role", "dataset_id", "version", "format", "bytes", "location", "checksum"]
    print(tabulate(rows, headers=headers, tablefmt="github"))
    return 0
