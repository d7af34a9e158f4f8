"""The accepted history of a dataset: the review layer ``<metric>/review/<dataset>``, one file per day.

The review asset is only materialized when every blocking check passed, so a rejected day is
never found here and never becomes part of a baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from metricdag.io.layout import current_file, partition_prefix
from metricdag.io.objectstore import ObjectStore
from metricdag.io.parquet import from_parquet_bytes
from metricdag.review.measures import measure

# A day -> that partition's data, or None when the partition has no file.
PartitionReader = Callable[[date], "pd.DataFrame | None"]


@dataclass(frozen=True)
class HistoryPoint:
    day: date
    value: float


def partition_reader(store: ObjectStore, base_uri: str, environment: str, asset_path: list[str]) -> PartitionReader:
    """Reads one asset's partitions from the object store (the IO manager's layout)."""

    def read(day: date) -> pd.DataFrame | None:
        found = current_file(store, partition_prefix(base_uri, environment, asset_path, day.isoformat()))
        return None if found is None else from_parquet_bytes(store.get_bytes(found.uri))

    return read


def window_days(day: date, window: int) -> list[date]:
    """The ``window`` days before ``day``, oldest first (``day`` itself is never part of its history)."""
    return [day - timedelta(days=n) for n in range(window, 0, -1)]


def accepted_history(read_accepted: PartitionReader, day: date, window: int, measure_spec: str, dataset: str) -> list[HistoryPoint]:
    """The measure over every accepted partition among the ``window`` days before ``day``."""
    points = []
    for d in window_days(day, window):
        frame = read_accepted(d)
        if frame is not None:
            points.append(HistoryPoint(d, measure(frame, measure_spec, dataset)))
    return points


def stored_days(store: ObjectStore, base_uri: str, environment: str, asset_path: list[str]) -> list[date]:
    """Every partition day of an asset that has a file, oldest first."""
    root = partition_prefix(base_uri, environment, asset_path, None).rsplit("/", 1)[0]
    days = set()
    for info in store.list(root):
        parts = info.uri[len(root) :].strip("/").split("/")
        if len(parts) == 4 and info.uri.endswith(".parquet"):
            try:
                days.add(date(int(parts[0]), int(parts[1]), int(parts[2])))
            except ValueError:
                continue
    return sorted(days)


def last_days(end: date, count: int) -> list[date]:
    """``count`` days ending with ``end``, oldest first."""
    return [end - timedelta(days=n) for n in range(count - 1, -1, -1)]
