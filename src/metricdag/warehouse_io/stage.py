"""Stage a Parquet-stored input of a SQL node (a Python or JVM node's output, a sourced file or
Legend dataset) into the warehouse: the persister's own load (COPY of the file, partition
replaced in one transaction, ledger and audit record) into the metric's intermediate schema.

A dataset without a partition column of its own (reference data such as ``stores``) is loaded as
one day's copy under :data:`~metricdag.warehouse_io.tables.STAGED_PARTITION_COLUMN`, written to a
new Parquet file next to the original first; a partitioned one is loaded from its file as it is.
"""

from __future__ import annotations

from datetime import date

from metricdag.catalog.models import DatasetSchema
from metricdag.io.layout import partition_prefix
from metricdag.io.objectstore import env_store, join_uri
from metricdag.io.parquet import from_parquet_bytes, to_parquet_bytes
from metricdag.persistence.handler import handler
from metricdag.persistence.request import PersistRequest
from metricdag.settings import Environment
from metricdag.warehouse_io.tables import STAGED_PARTITION_COLUMN, ParquetData, WarehouseTable, intermediate_table


def staged_prefix(env: Environment, metric: str, dataset: str, day: date) -> str:
    """Where copies with the staged partition column are written: outside every asset's folder
    (an asset's folder holds only its own file), one folder per metric, dataset and day."""
    return partition_prefix(env.object_store_uri, env.name, ["_staged", metric, dataset], day.isoformat())


def stage_parquet(
    env: Environment, metric: str, data: ParquetData, schema: DatasetSchema, day: date, run_id: str,
    scratch: str | None = None,
) -> WarehouseTable:
    """Load ``data`` into ``<DB>.<METRIC>_INTERMEDIATE.<DATASET>`` for ``day`` through the persister
    (``scratch``: a scratch run's intermediate schema)."""
    target = intermediate_table(env.snowflake.database, metric, data.dataset, schema, day, scratch=scratch)
    source_uri = data.uri
    if schema.partition_column is None:
        store = env_store(env, data.uri)
        frame = from_parquet_bytes(store.get_bytes(data.uri))
        frame[STAGED_PARTITION_COLUMN] = day
        prefix = staged_prefix(env, metric, data.dataset, day)
        source_uri = join_uri(prefix, data.uri.rpartition("/")[2])  # <run>-<attempt>.parquet: unique per attempt
        store.put_bytes(source_uri, to_parquet_bytes(frame))
        for old in store.list(prefix):
            if old.uri != source_uri:
                store.delete(old.uri)
    result = handler(PersistRequest(
        environment=env.name, dataset=data.dataset, database=target.database, schema=target.schema_name,
        table=target.table, source_uri=source_uri, partition_value=day,
        partition_column=schema.partition_column or STAGED_PARTITION_COLUMN,  # as the file spells it
        key_columns=list(schema.key), run_id=run_id, publish=False,
    ).to_event())
    return target.model_copy(update={"rows": int(result["rows_loaded"])})
