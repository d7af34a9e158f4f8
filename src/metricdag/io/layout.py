"""Where each asset's data lives in the object store.

    <base>/<env>/<metric>/<layer>/<dataset>/YYYY/MM/DD/<run_id>-<attempt>.parquet

One folder per partition; a new write replaces the folder's previous file only after the
new file is complete, so readers always find one whole file. The file name says which run
(and attempt) wrote it, so a step can read exactly its own run's file (:func:`file_of_run`).
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


# What an asset partition's folder holds: its Parquet file, or the pointer to the warehouse table
# partition that holds it (a SQL node's output: metricdag.warehouse_io.tables.POINTER_SUFFIX).
ENTRY_SUFFIXES = (".parquet", ".table.json")


def attempt_of(uri: str, run_id: str) -> int | None:
    """The attempt number in the name of a file ``run_id`` wrote (0 when not a number), else None."""
    name = uri.rsplit("/", 1)[-1]
    suffix = next((s for s in ENTRY_SUFFIXES if name.endswith(s)), None)
    if not (name.startswith(f"{run_id}-") and suffix):
        return None
    attempt = name[len(run_id) + 1 : -len(suffix)]
    if not attempt or "-" in attempt:  # another run's file, whose id starts with this one
        return None
    return int(attempt) if attempt.isdigit() else 0


def file_of_run(objects: list[ObjectInfo], run_ids: list[str]) -> ObjectInfo | None:
    """The file the first of ``run_ids`` that wrote one wrote (its last attempt), or None.

    ``run_ids`` is a run and then the runs it re-executes, nearest first: a re-execution reads
    the outputs its parent run wrote for the steps it does not run again.
    """
    for run_id in run_ids:
        mine = [(attempt, o) for o in objects if (attempt := attempt_of(o.uri, run_id)) is not None]
        if mine:
            return max(mine, key=lambda pair: (pair[0], pair[1].modified, pair[1].uri))[1]
    return None


def newest(objects: list[ObjectInfo]) -> ObjectInfo | None:
    parquet = [o for o in objects if o.uri.endswith(".parquet")]
    return max(parquet, key=lambda o: (o.modified, o.uri)) if parquet else None


def current_file(store: ObjectStore, prefix: str) -> ObjectInfo | None:
    return newest(store.list(prefix))


def current_entry(store: ObjectStore, prefix: str) -> ObjectInfo | None:
    """The newest Parquet file or warehouse pointer of a partition folder."""
    entries = [o for o in store.list(prefix) if o.uri.endswith(ENTRY_SUFFIXES)]
    return max(entries, key=lambda o: (o.modified, o.uri)) if entries else None
