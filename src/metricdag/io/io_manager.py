"""The Parquet IO manager: every asset's value is one Parquet file per partition."""

from __future__ import annotations

import uuid

import dagster as dg
import pandas as pd

from metricdag.io.layout import current_file, file_name, partition_prefix
from metricdag.io.objectstore import ObjectStore, join_uri, sha256_hex, store_for
from metricdag.io.parquet import from_parquet_bytes, to_parquet_bytes


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as Parquet under ``file://`` (local) or ``s3://`` (deployed)."""

    base_uri: str
    environment: str
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    def _store(self) -> ObjectStore:
        return store_for(self.base_uri, self.s3_endpoint_url, self.s3_region)

    def _prefix(self, asset_key: dg.AssetKey, partition_key: str | None) -> str:
        return partition_prefix(self.base_uri, self.environment, list(asset_key.path), partition_key)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a pandas DataFrame, got {type(obj).__name__}")
        partition = context.partition_key if context.has_partition_key else None
        prefix = self._prefix(context.asset_key, partition)
        uri = join_uri(prefix, file_name(context.run_id, _attempt(context)))
        data = to_parquet_bytes(obj)
        store = self._store()
        store.put_bytes(uri, data)
        for old in store.list(prefix):
            if old.uri != uri:
                store.delete(old.uri)
        context.add_output_metadata(
            {
                "uri": dg.MetadataValue.path(uri),
                "rows": len(obj),
                "bytes": len(data),
                "checksum": sha256_hex(data),
                "dagster/row_count": len(obj),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        key = context.asset_key
        partition = context.asset_partition_key if context.has_asset_partitions else None
        prefix = self._prefix(key, partition)
        found = current_file(self._store(), prefix)
        if found is None:
            raise FileNotFoundError(
                f"{key.to_user_string()} has no data for partition {partition or '(none)'}: nothing under {prefix}; "
                "materialize it first"
            )
        return from_parquet_bytes(self._store().get_bytes(found.uri))

    def location(self, asset_key: dg.AssetKey, partition_key: str | None) -> str | None:
        """URI of the current file of an asset partition (None if there is none)."""
        found = current_file(self._store(), self._prefix(asset_key, partition_key))
        return found.uri if found else None


def _attempt(context: dg.OutputContext) -> str:
    try:
        return str(context.step_context.previous_attempt_count + 1)
    except (AttributeError, dg.DagsterInvariantViolationError):  # outside a run (direct output contexts in tests): any unique suffix
        return uuid.uuid4().hex[:8]
