"""Read a logical dataset from the object store (reference files or daily partitions)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from metricdag.catalog.models import ObjectStoreCoordinates
from metricdag.io.objectstore import ObjectStore, join_uri
from metricdag.io.parquet import from_csv_bytes, from_parquet_bytes
from metricdag.sourcing.errors import SourceError


def prefix_uri(coords: ObjectStoreCoordinates, base_uri: str, partition_date: date | None) -> str:
    root = coords.prefix if "://" in coords.prefix else join_uri(base_uri, coords.prefix)
    if coords.partitioned:
        if partition_date is None:
            raise SourceError(f"{coords.prefix} is partitioned by date but no partition was given")
        return join_uri(root, f"{partition_date:%Y/%m/%d}")
    return root


def read_object_store(
    store: ObjectStore, dataset: str, coords: ObjectStoreCoordinates, base_uri: str, partition_date: date | None
) -> pd.DataFrame:
    prefix = prefix_uri(coords, base_uri, partition_date)
    suffix = "." + coords.format
    files = [o for o in store.list(prefix) if o.uri.endswith(suffix)]
    if not files:
        raise SourceError(f"dataset {dataset!r}: no {coords.format} files under {prefix}")
    reader = from_parquet_bytes if coords.format == "parquet" else from_csv_bytes
    frames = [reader(store.get_bytes(f.uri)) for f in files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
