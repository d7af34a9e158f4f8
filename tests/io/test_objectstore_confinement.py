"""Which object-store URIs are inside a base: a real folder (symlinks and '..' resolved) or an
S3 bucket + key prefix at a '/' boundary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metricdag.io.objectstore import is_under_prefix
from metricdag.settings import load_environment
from metricdag.catalog.seed import load_seed_files
from metricdag.catalog.models import ObjectStoreCoordinates
from metricdag.sourcing.object_store import dataset_root

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("uri", "base", "inside"),
    [
        ("s3://metricdag-prod/metrics/prod/x/y", "s3://metricdag-prod/metrics", True),
        ("s3://metricdag-prod/metrics", "s3://metricdag-prod/metrics/", True),
        ("s3://metricdag-prod/metricsX/y", "s3://metricdag-prod/metrics", False),
        ("s3://other-bucket/metrics/y", "s3://metricdag-prod/metrics", False),
        ("s3://metricdag-prod/metrics/../secrets", "s3://metricdag-prod/metrics", False),
        ("s3://anything/at/all", "s3://anything", True),
        ("file:///tmp/store/a", "s3://metricdag-prod/metrics", False),
        ("s3://metricdag-prod/metrics/a", "file:///tmp/store", False),
        ("file://etc/passwd", "file:///tmp/store", False),  # a relative path is never inside
    ],
)
def test_uris_inside_and_outside_a_base(uri: str, base: str, inside: bool) -> None:
    assert is_under_prefix(uri, base) is inside


def test_local_folders_resolve_dot_dot_and_symlinks(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "data").mkdir(parents=True)
    (tmp_path / "storex").mkdir()
    os.symlink("/etc", store / "escape")
    base = f"file://{store}"

    assert is_under_prefix(f"file://{store}/data", base)
    assert is_under_prefix(f"file://{store}", base)
    assert not is_under_prefix(f"file://{tmp_path}/storex", base)
    assert not is_under_prefix(f"file://{store}/data/../../storex", base)
    assert not is_under_prefix(f"file://{store}/escape/passwd", base)
    assert not is_under_prefix("file:///etc/", base)


@pytest.mark.parametrize("name", ["local", "prod"])
def test_every_seeded_catalog_prefix_is_readable_in_its_environment(name: str) -> None:
    env = load_environment(name, ROOT)
    checked = 0
    for defn in load_seed_files(ROOT / "pipeline-configs" / "catalog"):
        coords = defn.coordinates.get(name)
        if isinstance(coords, ObjectStoreCoordinates):
            dataset_root(defn.name, coords, env.object_store_uri, env.object_store_allowed_prefixes)  # raises if not
            checked += 1
    assert checked > 0
