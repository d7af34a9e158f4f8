"""The Parquet IO manager: every asset's value is one Parquet file per partition.

A partition with no file is a permanent failure (another attempt finds nothing either): loading
it fails the step at once, with the command that materializes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import dagster as dg
import pandas as pd

from metricdag.errors import MetricdagError
from metricdag.io.layout import current_entry, file_name
from metricdag.io.objectstore import ObjectStore, join_uri, sha256_hex
from metricdag.io.resource import ObjectStoreResource
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


READ_AS = "metricdag/read_as"  # input metadata: how the consumer wants the value
RELATION = "relation"  # a SQL node: the warehouse table, or the Parquet file's location; never rows
IN_PLACE = "in_place"  # a pass-through (the review layer): the warehouse table, else the rows


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as Parquet under ``file://`` (local) or ``s3://`` (deployed).

    One IO manager for every asset, dispatching on where the asset lives: a
    :class:`~metricdag.warehouse_io.tables.WarehouseTable` (a SQL node's output, a Snowflake source
    read in place) is stored as a pointer file in the partition's folder instead of Parquet. An
    input marked ``metricdag/read_as: relation`` (a SQL node's) gets the table or the Parquet
    file's location, never rows; any other reader of a warehouse partition gets its rows.
    """

    object_store: ObjectStoreResource
    """Where the files live (the location's one object-store resource)."""
    project_root: str | None = None  # for the environment's Snowflake settings (warehouse partitions)

    def _store(self) -> ObjectStore:
        return self.object_store.store()

    def _prefix(self, asset_key: dg.AssetKey, partition_key: str | None) -> str:
        return self.object_store.prefix(asset_key, partition_key)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        from metricdag.warehouse_io.tables import WarehouseTable

        if isinstance(obj, WarehouseTable):
            return self._handle_table(context, obj)
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

    def _handle_table(self, context: dg.OutputContext, table) -> None:
        """A warehouse partition: only a pointer to it is stored (the rows stay in the warehouse)."""
        from metricdag.warehouse_io.tables import POINTER_SUFFIX

        with classify_failures(f"storing {context.asset_key.to_user_string()}"):
            partition = context.partition_key if context.has_partition_key else None
            prefix = self._prefix(context.asset_key, partition)
            uri = join_uri(prefix, file_name(context.run_id, _attempt(context)).removesuffix(".parquet") + POINTER_SUFFIX)
            store = self._store()
            store.put_bytes(uri, table.to_json())
            for old in store.list(prefix):
                if old.uri != uri:
                    store.delete(old.uri)
        metadata = {"table": table.sql, "pointer": dg.MetadataValue.path(uri)}
        if table.rows is not None:
            metadata.update({"rows": table.rows, "dagster/row_count": table.rows})
        if table.query_id:
            metadata["query_id"] = table.query_id
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        from metricdag.warehouse_io.tables import POINTER_SUFFIX, ParquetData, WarehouseTable

        key = context.asset_key
        partition = context.asset_partition_key if context.has_asset_partitions else None
        read_as = (context.definition_metadata or {}).get(READ_AS)
        relation = read_as == RELATION
        with classify_failures(f"loading input {context.name!r}" if context.has_input_name else "loading input"):
            prefix = self._prefix(key, partition)
            found = current_entry(self._store(), prefix)
            if found is None:
                raise missing_partition(key, partition, prefix)
            if found.uri.endswith(POINTER_SUFFIX):
                table = WarehouseTable.from_json(self._store().get_bytes(found.uri))
                return table if read_as in (RELATION, IN_PLACE) else self._read_table(table)
            if relation:
                return ParquetData(dataset=key.path[-1], uri=found.uri,
                                   partition=date.fromisoformat(partition) if partition else None)
            return from_parquet_bytes(self._store().get_bytes(found.uri))

    def _read_table(self, table) -> pd.DataFrame:
        from metricdag.settings import cached_environment, find_project_root
        from metricdag.warehouse_io.read import read_table

        env = cached_environment(self.object_store.environment, self.project_root or str(find_project_root()))
        return read_table(env.snowflake, table)


def _attempt(context: dg.OutputContext) -> str:
    try:
        return str(context.step_context.previous_attempt_count + 1)
    except (AttributeError, dg.DagsterInvariantViolationError):  # outside a run (direct output contexts in tests): any unique suffix
        return uuid.uuid4().hex[:8]
