"""The object-store resource: the one place a run finds its object store and the asset files in it.

The IO manager stores and loads through it, the review checks read the accepted history through
it, sourcing reads S3/file sources through it and the event sensor asks it which partitions exist:
one resource, bound once per location, so a test or a ``metricdag diff`` run that points it at
another base moves every reader and writer at once."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from metricdag.io.layout import current_entry, file_of_run, partition_prefix
from metricdag.io.objectstore import ObjectStore, store_for


class ObjectStoreResource(dg.ConfigurableResource):
    """``file://`` (local) or ``s3://`` (deployed) object store, and the asset-file layout under
    ``base_uri``: ``<base>/<environment>/<asset path>/<yyyy>/<mm>/<dd>/<run file>``."""

    base_uri: str
    environment: str
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    allowed_prefixes: list[str] = []
    """Other prefixes catalog coordinates may be under besides ``base_uri`` (``object_store.allowed_prefixes``)."""
    sources_uri: str | None = None
    """Where sourced datasets' relative coordinates resolve, when not under ``base_uri`` (a diff's
    scratch run stores its asset files apart but reads the environment's sources)."""

    @property
    def sources_base(self) -> str:
        return self.sources_uri or self.base_uri

    def store(self) -> ObjectStore:
        return store_for(self.base_uri, self.s3_endpoint_url, self.s3_region)

    def prefix(self, asset_key: dg.AssetKey | Sequence[str], partition_key: str | None) -> str:
        """The folder of one asset partition's files."""
        return partition_prefix(self.base_uri, self.environment, _path(asset_key), partition_key)

    def location(self, asset_key: dg.AssetKey, partition_key: str | None) -> str | None:
        """URI of the current file of an asset partition (None if there is none)."""
        found = current_entry(self.store(), self.prefix(asset_key, partition_key))
        return found.uri if found else None

    def run_location(self, asset_key: dg.AssetKey, partition_key: str | None, run_ids: Sequence[str]) -> str:
        """URI of the file of an asset partition that the first of ``run_ids`` wrote (a run, then
        the runs it re-executes); a ``MissingPartitionError`` when none of them wrote one or a
        later run has replaced it."""
        from metricdag.io.io_manager import missing_partition

        prefix = self.prefix(asset_key, partition_key)
        found = file_of_run(self.store().list(prefix), list(run_ids))
        if found is None:
            raise missing_partition(asset_key, partition_key, prefix, run_ids)
        return found.uri

    def table_of(self, uri: str):
        """The warehouse partition a pointer file names (None: ``uri`` is a Parquet file)."""
        from metricdag.warehouse_io.tables import POINTER_SUFFIX, WarehouseTable

        return WarehouseTable.from_json(self.store().get_bytes(uri)) if uri.endswith(POINTER_SUFFIX) else None

    def warehouse_partition(self, asset_key: dg.AssetKey, partition_key: str | None):
        """The warehouse partition an asset's current pointer names (a permanent error when the
        partition has no data, or holds a Parquet file instead)."""
        from metricdag.io.io_manager import missing_partition

        prefix = self.prefix(asset_key, partition_key)
        found = current_entry(self.store(), prefix)
        table = None if found is None else self.table_of(found.uri)
        if table is None:
            raise missing_partition(asset_key, partition_key, prefix + " (a warehouse table pointer)")
        return table

    def rows(self, asset_key: dg.AssetKey, partition_key: str) -> int:
        """The rows an asset partition holds: the pointer's count when it lives in the warehouse,
        else the row count in its Parquet file's footer (0: no file)."""
        entry = self.location(asset_key, partition_key)
        if entry is None:
            return 0
        table = self.table_of(entry)
        if table is not None and table.rows is not None:
            return table.rows
        import pyarrow as pa
        import pyarrow.parquet as pq

        return pq.ParquetFile(pa.BufferReader(self.store().get_bytes(entry))).metadata.num_rows

    def reader(self, asset_key: dg.AssetKey | Sequence[str]):
        """``day -> DataFrame | None``: one asset's partitions as the review history reads them."""
        from metricdag.review.history import partition_reader

        return partition_reader(self.store(), self.base_uri, self.environment, _path(asset_key))


def _path(asset_key: dg.AssetKey | Sequence[str]) -> list[str]:
    return list(asset_key.path) if isinstance(asset_key, dg.AssetKey) else list(asset_key)


def object_store_resource(env, base_uri: str | None = None) -> ObjectStoreResource:
    """The environment's object-store resource (``base_uri``: another base for the asset files,
    e.g. a diff's scratch area; sources are still read from the environment's base)."""
    store = env.object_store
    return ObjectStoreResource(
        base_uri=base_uri or env.object_store_uri,
        environment=env.name,
        s3_endpoint_url=store.s3_endpoint_url,
        s3_region=store.s3_region,
        allowed_prefixes=env.object_store_allowed_prefixes,
        sources_uri=env.object_store_uri if base_uri else None,
    )
