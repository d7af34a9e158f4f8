"""The one node-runner interface: any node, any language, outputs typed by the catalog schema.

    run_node(metric_folder, node, inputs, ctx, schemas) -> {output name: DataFrame}

``python`` nodes are called in process (:mod:`metricdag.nodes.python`); ``java`` and ``scala``
nodes run as a separate program on files (:mod:`metricdag.nodes.jvm`; ``jvm_env``: added to its
environment, in a Dagster step the Dagster Pipes bootstrap variables). Either way each
declared output is conformed to its catalog schema before it is returned, and any problem is
a :class:`NodeError` naming the node (and the output and column when that is what is wrong).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from metricdag.catalog.conform import SchemaMismatchError, conform
from metricdag.catalog.models import DatasetSchema
from metricdag.nodes.context import NodeContext
from metricdag.nodes.errors import NodeError
from metricdag.nodes.jvm import run_jvm_node
from metricdag.nodes.jvm_build import LIBRARY_DIR, source_files, sources_digest
from metricdag.nodes.python import load_entrypoint, run_python_node
from metricdag.spec.models import NodeSpec

SqlOnFrames = Callable[
    [Path, NodeSpec, Mapping[str, pd.DataFrame], Mapping[str, DatasetSchema], date, Mapping[str, DatasetSchema] | None],
    dict[str, pd.DataFrame],
]
"""How a SQL node runs on DataFrames: ``(metric_folder, node, inputs, output_schemas, partition_date,
input_schemas) -> {output: DataFrame}``."""


def run_node(
    metric_folder: Path,
    node: NodeSpec,
    inputs: Mapping[str, pd.DataFrame],
    ctx: NodeContext,
    schemas: Mapping[str, DatasetSchema],
    *,
    jvm_cache: Path | None = None,
    sql: SqlOnFrames | None = None,
    input_schemas: Mapping[str, DatasetSchema] | None = None,
    jvm_env: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run ``node`` on ``inputs``; return its declared outputs, each conformed to ``schemas[output]``.

    A ``sql`` node runs in the warehouse, so on DataFrames only through ``sql``, which loads them
    into tables and runs it there (``input_schemas``: the inputs' catalog schemas, typing those
    tables): how a node test or a BDD scenario runs it (:mod:`metricdag_testing.sql_nodes`). A
    metric's run never hands a SQL node DataFrames (:mod:`metricdag.factory.sql_assets`)."""
    unknown = [name for name in node.output_names if name not in schemas]
    if unknown:
        raise NodeError(f"node {node.name!r}: no catalog schema for output(s) {unknown}")
    if node.is_sql:
        if sql is None:
            raise NodeError(f"node {node.name!r} is a sql node: it runs in the warehouse, on tables, not on DataFrames")
        raw = sql(metric_folder, node, inputs, schemas, ctx.partition_date, input_schemas)
    elif node.is_jvm:
        raw = run_jvm_node(metric_folder, node, inputs, ctx, jvm_cache, jvm_env)
    else:
        fn = load_entrypoint(metric_folder, node.entrypoint, python_module_name(ctx.metric, node.name))
        raw = run_python_node(fn, dict(inputs), ctx, node.output_names, node.timeout_s)
    keys = {out.dataset: out.key for out in node.outputs}
    return {name: conform_output(node.name, name, raw[name], schemas[name], keys[name]) for name in node.output_names}


def conform_output(
    node: str, output: str, frame: pd.DataFrame, schema: DatasetSchema, key: list[str] | None = None
) -> pd.DataFrame:
    """The output conformed to its schema, its key (the output's declared ``key:``, else the
    catalog schema's) unique and non-null, and its float columns finite."""
    try:
        return conform(frame, schema, output, role="output", key=key or schema.key, finite=True)
    except SchemaMismatchError as exc:
        raise NodeError(f"node {node!r}: {exc}") from None


def python_module_name(metric: str, node: str) -> str:
    return f"metricdag_nodes.{metric}.{node}"


def node_source_files(metric_folder: Path, node: NodeSpec) -> list[Path]:
    """The files a node's code consists of: its python file, or every source under its JVM folder."""
    target = metric_folder / node.entrypoint_path
    return source_files(target, node.language) if node.is_jvm else [target]


def node_code_version(metric_folder: Path, node: NodeSpec) -> str:
    """Changes when any source file of the node (a JVM node's library too) or its declaration in
    metric.yaml changes."""
    digest = sources_digest(metric_folder, node_source_files(metric_folder, node))
    if node.is_jvm:  # and the node library it is compiled against
        digest += sources_digest(LIBRARY_DIR, source_files(LIBRARY_DIR, "java"))
    declared = node.model_dump_json(exclude=None if any(o.checks for o in node.outputs) else NO_CHECKS)
    return hashlib.sha256((digest + declared).encode()).hexdigest()[:16]


# a node without output checks hashes as it did before outputs had them
NO_CHECKS = {"outputs": {"__all__": {"checks"}}}
