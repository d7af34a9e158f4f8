"""Read a logical dataset from the object store (reference files or daily partitions).

The catalog says where; the environment says what may be read: a prefix (relative, or a full
``file://``/``s3://`` URI) must resolve under the environment's object-store base or one of its
``object_store.allowed_prefixes``, else the read is refused before anything is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from metricdag.catalog.models import ObjectStoreCoordinates
from metricdag.io.objectstore import ObjectStore, is_under_prefix, join_uri
from metricdag.io.parquet import from_csv_bytes, from_parquet_bytes
from metricdag.sourcing.errors import SourceError


def dataset_root(
    dataset: str, coords: ObjectStoreCoordinates, base_uri: str, allowed_prefixes: Sequence[str] = ()
) -> str:
    """Where ``coords`` point: the prefix joined to ``base_uri`` (or the prefix itself when it is a
    full URI); :class:`SourceError` naming the dataset, the URI and the allowed bases when that is
    not under ``base_uri`` or one of ``allowed_prefixes``."""
    root = coords.prefix if "://" in coords.prefix else join_uri(base_uri, coords.prefix)
    bases = [base_uri, *allowed_prefixes]
    if not any(is_under_prefix(root, base) for base in bases):
        raise SourceError(
            f"dataset {dataset!r}: the catalog's object-store prefix {root[:300]} is outside the environment's "
            f"object store ({', '.join(bases)}; object_store.base_uri and object_store.allowed_prefixes in the "
            "environment file); refusing to read it"
        )
    return root


def prefix_uri(
    coords: ObjectStoreCoordinates,
    base_uri: str,
    partition_date: date | None,
    allowed_prefixes: Sequence[str] = (),
    dataset: str = "?",
) -> str:
    root = dataset_root(dataset, coords, base_uri, allowed_prefixes)
    if coords.partitioned:
        if partition_date is None:
            raise SourceError(f"{coords.prefix} is partitioned by date but no partition was given")
        return join_uri(root, f"{partition_date:%Y/%m/%d}")
    return root


def read_object_store(
    store: ObjectStore,
    dataset: str,
    coords: ObjectStoreCoordinates,
    base_uri: str,
    partition_date: date | None,
    allowed_prefixes: Sequence[str] = (),
) -> pd.DataFrame:
    prefix = prefix_uri(coords, base_uri, partition_date, allowed_prefixes, dataset)
    suffix = "." + coords.format
    files = [o for o in store.list(prefix) if o.uri.endswith(suffix)]
    if not files:
        raise SourceError(f"dataset {dataset!r}: no {coords.format} files under {prefix}")
    reader = from_parquet_bytes if coords.format == "parquet" else from_csv_bytes
    frames = [reader(store.get_bytes(f.uri)) for f in files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
