"""Download snapshot files and verify them (checksum, size, schema) before anything uses them."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
import pyarrow.parquet as pq

from metricdag.catalog.conform import SchemaMismatchError, conform
from metricdag.catalog.snapshots import SnapshotDataset
from metricdag.errors import MetricdagError
from metricdag.io.objectstore import env_store, sha256_hex
from metricdag.settings import Environment


class SnapshotVerificationError(MetricdagError):
    """A snapshot file is not what the catalog says it is."""


@dataclass(frozen=True)
class VerifiedSnapshot:
    snapshot: SnapshotDataset
    frame: pd.DataFrame

    @property
    def label(self) -> str:
        return f"{self.snapshot.dataset_id}@{self.snapshot.version}"


def encode(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def decode(data: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""])
    return pq.read_table(io.BytesIO(data)).to_pandas()


def fetch_bytes(env: Environment, location: str) -> bytes:
    store = env_store(env, location)
    try:
        return store.get_bytes(location)
    except FileNotFoundError:
        raise SnapshotVerificationError(f"snapshot file {location} does not exist") from None
    except Exception as exc:  # S3 client errors: name the file, not the stack
        raise SnapshotVerificationError(f"cannot download snapshot file {location}: {exc}") from None


def verify(snapshot: SnapshotDataset, data: bytes) -> pd.DataFrame:
    """The snapshot's rows, typed by its schema; :class:`SnapshotVerificationError` when the bytes'
    size or checksum differ from the catalog's, or the content does not match the schema."""
    what = f"snapshot {snapshot.dataset_id!r} version {snapshot.version} ({snapshot.storage_location})"
    if len(data) != snapshot.size_bytes:
        raise SnapshotVerificationError(f"{what}: size is {len(data)} bytes, the catalog says {snapshot.size_bytes}")
    actual = sha256_hex(data)
    if actual != snapshot.checksum:
        raise SnapshotVerificationError(f"{what}: checksum mismatch: file has {actual}, the catalog says {snapshot.checksum}")
    try:
        raw = decode(data, snapshot.format)
    except Exception as exc:
        raise SnapshotVerificationError(f"{what}: not a readable {snapshot.format} file: {exc}") from None
    try:
        return conform(raw, snapshot.schema_, snapshot.dataset_id, role="snapshot")
    except SchemaMismatchError as exc:
        raise SnapshotVerificationError(f"{what}: schema mismatch: {exc}") from None


def fetch_verified(env: Environment, snapshot: SnapshotDataset) -> VerifiedSnapshot:
    return VerifiedSnapshot(snapshot, verify(snapshot, fetch_bytes(env, snapshot.storage_location)))
