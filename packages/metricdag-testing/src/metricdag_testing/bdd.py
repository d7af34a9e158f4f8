"""Shared pytest-bdd step definitions for node behaviour scenarios (``<node>/tests/bdd/*.feature``).

    Given the node "daily_net_sales/net_sales"
    And the input "fx_rates":
      | currency | usd_per_unit |
      | EUR      | 1.1          |
    When the node runs
    Then the output "net_sales_daily" has these rows:
      | store_id | net_sales_usd |
      | S001     | 11.0          |
    And the output "net_sales_daily" has 1 row

Tables are typed by the dataset's catalog schema (``pipeline-configs/catalog``); an empty cell is
a null; a column the table leaves out of an input is null. "has these rows" compares by the
schema key among the table's columns (exact for text and integers, 0.005 for floats) and fails
with the diff report; "has exactly these rows" also fails on output rows the table does not list.
Use it in a test module with ``from metricdag_testing.bdd import *`` and ``scenarios(folder)``;
the module provides a ``jvm_cache`` fixture (a folder) for Java and Scala nodes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd
from pytest_bdd import given, parsers, then, when

from metricdag.catalog.conform import conform
from metricdag.catalog.models import DatasetSchema
from metricdag.catalog.seed import load_seed_files
from metricdag.changes.frame_diff import ColumnTolerance, diff_frames
from metricdag.changes.report import diff_text
from metricdag.nodes.context import NodeContext
from metricdag.nodes.execute import run_node
from metricdag.settings import find_project_root
from metricdag.spec.loader import load_metric
from metricdag.spec.node_tests import load_node_under_test
from metricdag_testing.sql_nodes import in_scratch

FLOAT_TOLERANCE = ColumnTolerance(abs=0.005)
log = logging.getLogger("metricdag.bdd")


@lru_cache(maxsize=4)
def catalog_schemas(project_root: Path) -> dict[str, DatasetSchema]:
    """The latest schema of every dataset in the repository's catalog entries."""
    from metricdag.catalog.models import version_key

    latest = {}
    for d in sorted(load_seed_files(project_root / "pipeline-configs" / "catalog"), key=lambda d: version_key(d.version)):
        latest[d.name] = d.schema_
    return latest


@dataclass
class NodeCase:
    metric_folder: Path
    node_name: str
    partition_date: date
    project_root: Path
    inputs: dict[str, pd.DataFrame] = field(default_factory=dict)
    outputs: dict[str, pd.DataFrame] | None = None

    def schema(self, dataset: str) -> DatasetSchema:
        schemas = catalog_schemas(self.project_root)
        if dataset not in schemas:
            raise AssertionError(f"no catalog entry for dataset {dataset!r} under pipeline-configs/catalog")
        return schemas[dataset]


def table_frame(datatable: list[list[str]], schema: DatasetSchema, dataset: str, *, fill: bool) -> pd.DataFrame:
    """A Gherkin table typed by ``schema``; ``fill``: add the schema's other columns as nulls."""
    header, *rows = datatable
    raw = pd.DataFrame([[None if v == "" else v for v in r] for r in rows], columns=header, dtype=object)
    if fill:
        for col in schema.columns:
            if col.name not in raw.columns:
                raw[col.name] = None
        return conform(raw, schema, dataset, role="table for")
    sub = DatasetSchema(columns=[c.model_copy(update={"nullable": True}) for c in schema.columns if c.name in header])
    unknown = [h for h in header if h not in {c.name for c in schema.columns}]
    if unknown:
        raise AssertionError(f"table for {dataset!r}: unknown column(s) {', '.join(unknown)}")
    return conform(raw, sub, dataset, role="table for")


@given(parsers.parse('the node "{metric}/{node}"'), target_fixture="node_case")
def given_node(metric: str, node: str) -> NodeCase:
    root = find_project_root()
    folder = root / "metrics" / metric
    spec = load_metric(folder, root).spec
    declared = {n.name: n for _, n in spec.nodes()}
    if node not in declared:
        raise AssertionError(f"metric {metric!r} has no node {node!r}")
    configs = [p.parent.parent for p in folder.glob("**/tests/test_config.yaml")]
    day = next(
        (load_node_under_test(f, root).config.partition_date for f in configs if f.name == node), date(2024, 6, 3)
    )
    return NodeCase(folder, node, day, root)


@given(parsers.parse('the partition date "{day}"'))
def given_partition_date(node_case: NodeCase, day: str) -> None:
    node_case.partition_date = date.fromisoformat(day)


@given(parsers.parse('the input "{dataset}":'))
def given_input(node_case: NodeCase, dataset: str, datatable: list[list[str]]) -> None:
    node_case.inputs[dataset] = table_frame(datatable, node_case.schema(dataset), dataset, fill=True)


@when("the node runs")
def node_runs(node_case: NodeCase, jvm_cache: Path) -> None:
    metric = load_metric(node_case.metric_folder, node_case.project_root)
    node = next(n for _, n in metric.spec.nodes() if n.name == node_case.node_name)
    missing = [i for i in node.inputs if i not in node_case.inputs]
    if missing:
        raise AssertionError(f"scenario gives no table for input(s) {', '.join(missing)} of node {node.name!r}")
    ctx = NodeContext(metric.name, node.name, node_case.partition_date, dict(node.params), log)
    schemas = {o: node_case.schema(o) for o in node.output_names}
    node_case.outputs = run_node(metric.folder, node, node_case.inputs, ctx, schemas, jvm_cache=jvm_cache,
                                 sql=in_scratch(), input_schemas={i: node_case.schema(i) for i in node.inputs})  # a sql node's tables


def _output(node_case: NodeCase, dataset: str) -> pd.DataFrame:
    if node_case.outputs is None:
        raise AssertionError("the node has not run: add 'When the node runs'")
    if dataset not in node_case.outputs:
        raise AssertionError(f"the node has no output {dataset!r} (it has {', '.join(node_case.outputs)})")
    return node_case.outputs[dataset]


def _compare(node_case: NodeCase, dataset: str, datatable: list[list[str]], exact: bool) -> None:
    schema = node_case.schema(dataset)
    expected = table_frame(datatable, schema, dataset, fill=False)
    key = [k for k in schema.key if k in expected.columns]
    if not key:
        raise AssertionError(f"the table for {dataset!r} needs at least one key column ({', '.join(schema.key)})")
    actual = _output(node_case, dataset)[list(expected.columns)]
    tolerances = {c.name: FLOAT_TOLERANCE for c in schema.columns if c.type in ("float64", "decimal") and c.name in expected}
    result = diff_frames(expected, actual, key, tolerances, dataset=dataset)
    problems = not result.changed.empty or not result.only_in_baseline.empty or not result.duplicates_in_output.empty
    if exact:
        problems = problems or not result.only_in_output.empty
    if problems:
        raise AssertionError("expected rows (baseline) vs node output:\n" + diff_text(result))


@then(parsers.parse('the output "{dataset}" has these rows:'))
def output_has_rows(node_case: NodeCase, dataset: str, datatable: list[list[str]]) -> None:
    _compare(node_case, dataset, datatable, exact=False)


@then(parsers.parse('the output "{dataset}" has exactly these rows:'))
def output_has_exactly_rows(node_case: NodeCase, dataset: str, datatable: list[list[str]]) -> None:
    _compare(node_case, dataset, datatable, exact=True)


@then(parsers.re(r'the output "(?P<dataset>[a-z0-9_]+)" has (?P<count>\d+) rows?$'))
def output_has_n_rows(node_case: NodeCase, dataset: str, count: str) -> None:
    actual = len(_output(node_case, dataset))
    assert actual == int(count), f"output {dataset!r} has {actual} rows, expected {count}"


# ``from metricdag_testing.bdd import *`` brings the steps and the fixtures pytest-bdd registers for them.
__all__ = ["NodeCase", *(name for name in list(globals()) if name.startswith("pytestbdd_"))]
