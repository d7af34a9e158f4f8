"""SQL nodes in the node-testing framework: the inputs (snapshots, or a BDD scenario's tables)
are loaded into a fresh scratch schema, the node's SQL runs there exactly as in a metric's run
(:func:`metricdag.nodes.sql.run_sql_node`, into a scratch output table), and the output is read
back for the diff; the schema is dropped afterwards whatever happens.

Each loaded input is the day's data already, so it is referenced as a whole table (no partition
filter); the output table is partitioned by its catalog partition column like the real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from metricdag.catalog.models import Column, DatasetSchema
from metricdag.nodes.errors import NodeError
from metricdag.nodes.execute import SqlOnFrames
from metricdag.settings import SnowflakeSettings
from metricdag.spec.models import NodeSpec
from metricdag.warehouse_io.tables import WarehouseTable
from metricdag_testing.scratch import ScratchSchema, scratch_schema

RUN_ID = "node-test"


@dataclass(frozen=True)
class ScratchTarget:
    """Where a SQL node's test runs: an environment's Snowflake, a database, a schema prefix."""

    settings: SnowflakeSettings
    prefix: str = "SCRATCH"
    database: str | None = None


def default_target() -> ScratchTarget:
    """The current environment's warehouse (what a BDD scenario runs in)."""
    from metricdag.settings import load_environment

    return ScratchTarget(load_environment().snowflake)  # read now: the ports of the stack that runs


def frame_schema(frame: pd.DataFrame, name: str) -> DatasetSchema:
    """A schema for a frame with no catalog schema at hand (types from its dtypes)."""
    from metricdag.review.checks import column_type

    kinds = {"int64", "float64", "bool", "date", "timestamp", "string", "decimal"}
    return DatasetSchema(columns=[
        Column(name=str(c), type=(t if (t := column_type(frame[c])) in kinds else "string")) for c in frame.columns
    ])


def run_sql_on_frames(
    target: ScratchTarget, metric_folder: Path, node: NodeSpec, inputs: Mapping[str, pd.DataFrame],
    output_schemas: Mapping[str, DatasetSchema], partition_date: date,
    input_schemas: Mapping[str, DatasetSchema] | None = None,
) -> dict[str, pd.DataFrame]:
    """The node's output (conformed to its catalog schema) from ``inputs``, computed in a scratch schema."""
    from metricdag.warehouse_io.statements import arrow_schema

    with scratch_schema(target.settings, prefix=target.prefix, node=node.name, database=target.database) as scratch:
        schemas = {}
        for name, frame in inputs.items():
            schemas[name] = (input_schemas or {}).get(name) or frame_schema(frame, name)
            scratch.load(name, frame, schema=arrow_schema(schemas[name]))
        return run_sql_in_schema(target.settings, scratch, metric_folder, node, schemas, output_schemas, partition_date)


def in_scratch(target: ScratchTarget | None = None) -> SqlOnFrames:
    """:func:`metricdag.nodes.execute.run_node`'s ``sql=``: a SQL node run on DataFrames in a scratch
    schema of ``target`` (default: the current environment's warehouse, read when the node runs)."""

    def run(metric_folder: Path, node: NodeSpec, inputs: Mapping[str, pd.DataFrame],
            output_schemas: Mapping[str, DatasetSchema], partition_date: date,
            input_schemas: Mapping[str, DatasetSchema] | None = None) -> dict[str, pd.DataFrame]:
        return run_sql_on_frames(target or default_target(), metric_folder, node, inputs, output_schemas,
                                 partition_date, input_schemas)

    return run


def run_sql_in_schema(
    settings: SnowflakeSettings, scratch: ScratchSchema, metric_folder: Path, node: NodeSpec,
    input_schemas: Mapping[str, DatasetSchema], output_schemas: Mapping[str, DatasetSchema], partition_date: date,
) -> dict[str, pd.DataFrame]:
    """Run the node over the scratch tables named after its inputs (already loaded), into a scratch
    output table; the output's rows, read back for the diff."""
    from metricdag.nodes.sql import run_sql_node
    from metricdag.warehouse_io.read import read_table

    out = node.outputs[0]
    schema = output_schemas[out.dataset]
    if schema.partition_column is None:
        raise NodeError(f"node {node.name!r}: output {out.dataset!r} of a sql node needs a partition column in its catalog schema")
    tables = {
        name: WarehouseTable(dataset=name, database=scratch.database, schema_name=scratch.schema, table=name.upper(),
                             dataset_schema=known)
        for name, known in input_schemas.items()
    }
    output = WarehouseTable(dataset=out.dataset, database=scratch.database, schema_name=scratch.schema,
                            table=out.dataset.upper(), partition_column=schema.partition_column.upper(),
                            partition=partition_date, dataset_schema=schema)
    written = run_sql_node(settings, metric_folder, node, tables, output, RUN_ID)
    return {out.dataset: read_table(settings, written)}
