"""The Parquet IO manager: every asset's value is one Parquet file per partition.

A partition with no file is a permanent failure (another attempt finds nothing either): loading
it fails the step at once, with the command that materializes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import dagster as dg
import pandas as pd

from metricdag.errors import MetricdagError
from metricdag.io.layout import current_file, file_name, file_of_run, partition_prefix
from metricdag.io.objectstore import ObjectStore, join_uri, sha256_hex, store_for
from metricdag.io.parquet import from_parquet_bytes, to_parquet_bytes
from metricdag.retries import classify_failures


class MissingPartitionError(MetricdagError):
    """An asset partition has no file (to read). Nothing another attempt can change."""

    transient = False


def materialize_command(asset_key: dg.AssetKey, partition_key: str | None) -> str:
    """The command that materializes an asset partition (the key's first element is the metric)."""
    return f"metricdag run --metric {asset_key.path[0]}" + (f" --date {partition_key}" if partition_key else "")


def missing_partition(
    asset_key: dg.AssetKey, partition_key: str | None, prefix: str, written_by: Sequence[str] = ()
) -> MissingPartitionError:
    """``<key> has no data for partition <day>; run: <command>``, and where it looked."""
    what = f"{asset_key.to_user_string()} has no data for partition {partition_key or '(none)'}"
    if written_by:
        what += f" written by run {', '.join(written_by)} (not materialized in that run, or replaced by a later run)"
    return MissingPartitionError(
        f"{what}; run: {materialize_command(asset_key, partition_key)}\n  looked under: {prefix}"
    )


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
        with classify_failures(f"storing {context.asset_key.to_user_string()}"):
            if not isinstance(obj, pd.DataFrame):
                raise TypeError(
                    f"{context.asset_key.to_user_string()}: expected a pandas DataFrame, got {type(obj).__name__}"
                )
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
        with classify_failures(f"loading input {context.name!r}" if context.has_input_name else "loading input"):
            prefix = self._prefix(key, partition)
            found = current_file(self._store(), prefix)
            if found is None:
                raise missing_partition(key, partition, prefix)
            return from_parquet_bytes(self._store().get_bytes(found.uri))

    def location(self, asset_key: dg.AssetKey, partition_key: str | None) -> str | None:
        """URI of the current file of an asset partition (None if there is none)."""
        found = current_file(self._store(), self._prefix(asset_key, partition_key))
        return found.uri if found else None

    def run_location(self, asset_key: dg.AssetKey, partition_key: str | None, run_ids: Sequence[str]) -> str:
        """URI of the file of an asset partition that the first of ``run_ids`` wrote (a run, then
        the runs it re-executes); a :class:`MissingPartitionError` when none of them wrote one
        or a later run has replaced it."""
        prefix = self._prefix(asset_key, partition_key)
        found = file_of_run(self._store().list(prefix), list(run_ids))
        if found is None:
            raise missing_partition(asset_key, partition_key, prefix, run_ids)
        return found.uri


def _attempt(context: dg.OutputContext) -> str:
    try:
        return str(context.step_context.previous_attempt_count + 1)
    except (AttributeError, dg.DagsterInvariantViolationError):  # outside a run (direct output contexts in tests): any unique suffix
        return uuid.uuid4().hex[:8]
