"""Asset wiring of SQL nodes (thin: the work is in :mod:`metricdag.nodes.sql`).

No ``from __future__ import annotations``: Dagster reads the annotations of asset functions.
"""

import dagster as dg

from metricdag.catalog.models import SnowflakeCoordinates
from metricdag.factory.lock_tags import resolve_locked
from metricdag.io.io_manager import READ_AS, RELATION
from metricdag.nodes.sql import run_sql_node
from metricdag.resources import CatalogResource, PersisterResource
from metricdag.retries import classify_failures
from metricdag.settings import cached_environment
from metricdag.spec.loader import Metric
from metricdag.spec.models import NodeSpec
from metricdag.warehouse_io.stage import stage_parquet
from metricdag.warehouse import quote_identifier
from metricdag.warehouse_io.tables import ParquetData, WarehouseTable, intermediate_table, source_table


def read_in_place(metric: Metric, dataset: str) -> bool:
    """Whether a sourced dataset is read by a SQL node (a Snowflake source then stays in the warehouse)."""
    return any(node.is_sql and dataset in node.inputs for _, node in metric.spec.nodes())


def sql_node_asset(metric: Metric, layer: str, node: NodeSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    from metricdag.factory.assets import (  # assets.py builds every node through node_asset, which calls this
        node_input_key,
        node_op,
        node_out,
        partition_date,
    )

    out = node.outputs[0]
    runs = f"sql, run in the warehouse into `{metric.name.upper()}_INTERMEDIATE.{out.dataset.upper()}`"
    outs = {out.dataset: node_out(metric, layer, node, out, {"sql", "snowflake"}, runs)}
    ins = {name: dg.AssetIn(key=node_input_key(metric, name), metadata={READ_AS: RELATION}) for name in node.inputs}

    @dg.multi_asset(outs=outs, ins=ins, **node_op(metric, node, partitions))
    def _node(context: dg.AssetExecutionContext, catalog: CatalogResource, persister: PersisterResource, **inputs):
        env = cached_environment(persister.environment, persister.project_root)
        day = partition_date(context)
        scratch = scratch_run(context.run.tags)
        with classify_failures(f"node {node.name!r}"):
            client = catalog.client()
            locked = metric.spec.catalog_datasets()
            schema = resolve_locked(context, client, out.dataset, metric.name, locked).schema_
            tables: dict[str, WarehouseTable] = {}
            for name, value in inputs.items():
                if isinstance(value, ParquetData):  # a Python/JVM output or a file source: staged by the persister's load
                    resolved = resolve_locked(context, client, name, metric.name, locked)
                    value = stage_parquet(env, metric.name, value, resolved.schema_, day, context.run.run_id, scratch)
                    context.log.info(f"staged {name!r} into {value.sql} ({value.rows} rows)")
                tables[name] = value
            target = intermediate_table(env.snowflake.database, metric.name, out.dataset, schema, day, scratch=scratch)
            written = run_sql_node(env.snowflake, metric.folder, node, tables, target, context.run.run_id)
        context.log.info(f"node {node.name!r}: {written.rows} rows into {written.sql} (query id {written.query_id})")
        yield dg.Output(written, output_name=out.dataset)

    return _node


def scratch_run(run_tags) -> str | None:
    """The scratch id of a ``metricdag diff`` run (its SQL nodes write their own intermediate schema)."""
    from metricdag.changes.scratch_run import DIFF_TAG  # imports the factory: only at run time

    return run_tags.get(DIFF_TAG)


def in_place_source(dataset: str, coords: SnowflakeCoordinates, default_database: str, schema, day, connection):
    """A Snowflake source read by a SQL node: the locked table's partition, counted, never downloaded."""
    table = source_table(dataset, coords, default_database, schema, day)
    sql, params = f"SELECT COUNT(*) FROM {table.sql}", ()
    if table.partition_column and table.partition:  # the connection's (pyformat) binding, as the sources use
        sql, params = f"{sql} WHERE {quote_identifier(table.partition_column)} = %s", (table.partition.isoformat(),)
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        (rows,) = cursor.fetchone()
    finally:
        cursor.close()
    return table.model_copy(update={"rows": int(rows)})
