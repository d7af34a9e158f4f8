"""Write a frame as a snapshot file and publish it as a snapshot dataset version (with its checksum)."""

from __future__ import annotations

import pandas as pd

from metricdag.catalog.client import CatalogClient, SnapshotNotFoundError
from metricdag.catalog.models import DatasetSchema, version_key
from metricdag.catalog.snapshots import PublishedSnapshotDataset, SnapshotDataset
from metricdag.io.objectstore import env_store, join_uri, sha256_hex
from metricdag.settings import Environment
from metricdag_testing.snapshots import encode


def snapshot_location(env: Environment, dataset_id: str, version: str, fmt: str) -> str:
    """``<object store>/snapshots/<dataset_id>/<version>/<dataset_id>.<fmt>``"""
    return join_uri(env.object_store_uri, "snapshots", dataset_id, version, f"{dataset_id}.{fmt}")


def latest_version(client: CatalogClient, dataset_id: str) -> PublishedSnapshotDataset | None:
    try:
        return client.snapshot_dataset(dataset_id)
    except SnapshotNotFoundError:
        return None


def next_version(version: str) -> str:
    """``1.2.0`` -> ``1.3.0``: a new baseline is a minor version."""
    major, minor, _ = version_key(version)
    return f"{major}.{minor + 1}.0"


def publish_frame(
    env: Environment,
    client: CatalogClient,
    dataset_id: str,
    version: str,
    frame: pd.DataFrame,
    schema: DatasetSchema,
    fmt: str = "parquet",
) -> PublishedSnapshotDataset:
    """Write the file (immutable path per version), then publish it with its sha256 and size."""
    data = encode(frame, fmt)
    location = snapshot_location(env, dataset_id, version, fmt)
    env_store(env, location).put_bytes(location, data)
    snapshot = SnapshotDataset(
        dataset_id=dataset_id,
        schema=schema,
        storage_location=location,
        version=version,
        checksum=sha256_hex(data),
        format=fmt,
        size_bytes=len(data),
    )
    return client.publish_snapshot(snapshot)
