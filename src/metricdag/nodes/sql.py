"""The SQL node runner: a node's SELECT over warehouse tables, written into a warehouse table.

    run_sql_node(settings, metric_folder, node, inputs, target, run_id) -> the written partition

``inputs`` maps each declared input to the :class:`~metricdag.warehouse_io.tables.WarehouseTable`
it lives in (a locked source table, another SQL node's intermediate table, a staged Parquet
input, or a test's scratch table); ``target`` is where the output goes (the metric's intermediate
table, or a scratch table). The same function runs in a metric's run and in a node test.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from metricdag.nodes.errors import NodeError
from metricdag.nodes.sql_template import Relation, SqlTemplate, load, render
from metricdag.settings import SnowflakeSettings
from metricdag.spec.models import NodeSpec
from metricdag.warehouse_io.execute import NodeQuery, run_node_query
from metricdag.warehouse_io.tables import WarehouseTable, relation_sql


def node_template(metric_folder: Path, node: NodeSpec) -> SqlTemplate:
    """The node's parsed SQL file (errors as ``path:line``, the path relative to the metric's parent)."""
    file = metric_folder / node.entrypoint_path
    return load(file, declared_inputs=node.inputs, shown_path=f"{metric_folder.name}/{node.entrypoint_path}")


def node_query(metric_folder: Path, node: NodeSpec, inputs: Mapping[str, WarehouseTable], target: WarehouseTable) -> NodeQuery:
    """The node's statement with every input reference resolved and the partition date bound."""
    if target.partition is None:
        raise NodeError(f"node {node.name!r}: its output {target.dataset!r} needs a partition to write")
    template = node_template(metric_folder, node)
    missing = [name for name in template.inputs if name not in inputs]
    if missing:
        raise NodeError(f"node {node.name!r}: no table for input(s) {', '.join(missing)}")
    relations = {name: Relation(*relation_sql(inputs[name])) for name in template.inputs}
    sql, params = render(template, relations, target.partition)
    return NodeQuery(node.name, template.path, sql, params)


def run_sql_node(
    settings: SnowflakeSettings, metric_folder: Path, node: NodeSpec, inputs: Mapping[str, WarehouseTable],
    target: WarehouseTable, run_id: str,
) -> WarehouseTable:
    """Run the node in the warehouse; the partition it wrote, with its row count and query id."""
    out = node.outputs[0]
    query = node_query(metric_folder, node, inputs, target)
    return run_node_query(settings, query, target, target.dataset_schema, out.key or target.dataset_schema.key, run_id)
