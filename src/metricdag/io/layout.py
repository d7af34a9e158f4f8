"""Where each asset's data lives in the object store.

    <base>/<env>/<metric>/<layer>/<dataset>/YYYY/MM/DD/<run_id>-<attempt>.parquet

One folder per partition; a new write replaces the folder's previous file only after the
new file is complete, so readers always find one whole file.
"""

from __future__ import annotations

from datetime import date

from metricdag.io.objectstore import ObjectInfo, ObjectStore, join_uri


def partition_path(partition_key: str | None) -> str:
    if not partition_key:
        return "unpartitioned"
    day = date.fromisoformat(partition_key)
    return f"{day:%Y/%m/%d}"


def partition_prefix(base_uri: str, environment: str, asset_path: list[str], partition_key: str | None) -> str:
    return join_uri(base_uri, environment, *asset_path, partition_path(partition_key))


def file_name(run_id: str, attempt: int | str) -> str:
    return f"{run_id}-{attempt}.parquet"


def newest(objects: list[ObjectInfo]) -> ObjectInfo | None:
    parquet = [o for o in objects if o.uri.endswith(".parquet")]
    return max(parquet, key=lambda o: (o.modified, o.uri)) if parquet else None


def current_file(store: ObjectStore, prefix: str) -> ObjectInfo | None:
    return newest(store.list(prefix))
