"""A node's ``tests/test_config.yaml`` (spec section 5.3) and ``pipeline-configs/test-environments.yaml``.

    node_name: net_sales
    test_environment: local_scratch
    partition_date: "2024-06-03"          # the business day the node is run for
    snapshots:
      inputs:
        - {dataset_id: pos_transactions_clean_sample, dataset: pos_transactions_clean}
        - {dataset_id: fx_rates_sample, dataset: fx_rates}
      baseline_outputs:
        - {dataset_id: net_sales_daily_baseline, dataset: net_sales_daily, tolerance: {net_sales_usd: 0.01}}
    bdd_tests:
      - feature_file: bdd/net_sales.feature

``dataset`` is the node's input (or output) the snapshot stands for; without it the
``dataset_id`` must itself be that name. ``version`` pins a snapshot version (default: the
latest the catalog has). Every problem is reported as ``path:line: message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from metricdag.catalog.snapshots import NodeName, SnapshotId, TestEnvironment, Version
from metricdag.errors import ConfigError, Problem, SpecError
from metricdag.spec.loader import Metric, load_metric
from metricdag.spec.models import NodeSpec
from metricdag.yamlio import line_of, load_model, parse_yaml
from metricdag.schema import StrictModel

CONFIG_FILE = Path("tests") / "test_config.yaml"
TEST_ENVIRONMENTS_FILE = Path("pipeline-configs") / "test-environments.yaml"


class Tolerance(StrictModel):
    """Numeric tolerance of one column: equal when ``|a - b| <= abs + rel * |baseline|``."""

    abs: float = Field(default=0.0, ge=0)
    rel: float = Field(default=0.0, ge=0)


class SnapshotUse(StrictModel):
    dataset_id: SnapshotId
    dataset: str | None = Field(default=None, description="the node input/output it stands for (default: dataset_id)")
    version: Version | None = None

    @property
    def logical_name(self) -> str:
        return self.dataset or self.dataset_id


class BaselineUse(SnapshotUse):
    key: list[str] | None = Field(default=None, description="compare rows by these columns (default: the schema key)")
    tolerance: dict[str, Annotated[float, Field(ge=0)] | Tolerance] = Field(
        default_factory=dict, description="column -> absolute tolerance, or {abs, rel}"
    )

    def tolerances(self) -> dict[str, Tolerance]:
        return {c: t if isinstance(t, Tolerance) else Tolerance(abs=t) for c, t in self.tolerance.items()}


class SnapshotUses(StrictModel):
    inputs: list[SnapshotUse] = Field(default_factory=list)
    baseline_outputs: list[BaselineUse] = Field(min_length=1)


class BddTest(StrictModel):
    feature_file: str


class NodeTestConfig(StrictModel):
    node_name: NodeName
    test_environment: TestEnvironment
    partition_date: date
    snapshots: SnapshotUses
    bdd_tests: list[BddTest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "NodeTestConfig":
        for role in ("inputs", "baseline_outputs"):
            names = [u.logical_name for u in getattr(self.snapshots, role)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"snapshots.{role}: {', '.join(dupes)} named more than once")
        return self


@dataclass(frozen=True)
class NodeUnderTest:
    """A node folder with its validated test config, metric and node declaration."""

    folder: Path
    config_path: Path
    config: NodeTestConfig
    metric: Metric
    node: NodeSpec

    @property
    def label(self) -> str:
        return f"{self.metric.name}/{self.node.name}"


def find_metric_folder(node_folder: Path) -> Path:
    for candidate in (node_folder, *node_folder.parents):
        if (candidate / "metric.yaml").is_file():
            return candidate
    raise ConfigError(f"{node_folder} is not inside a metric folder (no metric.yaml above it)")


def load_node_under_test(node_folder: Path, project_root: Path | None = None) -> NodeUnderTest:
    """Read ``<node_folder>/tests/test_config.yaml`` and check it against the metric's declaration."""
    folder = Path(node_folder).resolve()
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise SpecError.single(path, 1, "test_config.yaml not found")
    config = load_model(NodeTestConfig, path)
    metric_folder = find_metric_folder(folder)
    metric = load_metric(metric_folder, project_root or metric_folder.parent.parent)
    tree = parse_yaml(path.read_text(), path)
    nodes = {n.name: n for _, n in metric.spec.nodes()}
    node = nodes.get(config.node_name)
    if node is None:
        raise SpecError.single(
            path, line_of(tree, ("node_name",)),
            f"node_name: {config.node_name!r} is not a node of metric {metric.name!r} (nodes: {', '.join(nodes)})",
        )
    problems = []
    for role, allowed in (("inputs", node.inputs), ("baseline_outputs", node.output_names)):
        for i, use in enumerate(getattr(config.snapshots, role)):
            if use.logical_name not in allowed:
                field = "dataset" if use.dataset else "dataset_id"
                problems.append(Problem(
                    str(path), line_of(tree, ("snapshots", role, i, field)),
                    f"snapshots.{role}[{i}]: {use.logical_name!r} is not a{'n input' if role == 'inputs' else 'n output'} "
                    f"of node {node.name!r} ({', '.join(allowed)}); name it with 'dataset:'",
                ))
    missing_inputs = sorted(set(node.inputs) - {u.logical_name for u in config.snapshots.inputs})
    if missing_inputs:
        problems.append(Problem(str(path), line_of(tree, ("snapshots", "inputs")),
                                f"snapshots.inputs: no snapshot for node input(s) {', '.join(missing_inputs)}"))
    for i, bdd in enumerate(config.bdd_tests):
        if not (path.parent / bdd.feature_file).is_file():
            problems.append(Problem(str(path), line_of(tree, ("bdd_tests", i, "feature_file")),
                                    f"bdd_tests[{i}].feature_file: {bdd.feature_file} does not exist"))
    if problems:
        raise SpecError(problems)
    return NodeUnderTest(folder, path, config, metric, node)


# ------------------------------------------------------------------- test environments


class TestEnvironmentSpec(StrictModel):
    environment: str = Field(description="the metricdag environment (pipeline-configs/environments/<name>.yaml)")
    schema_prefix: str = Field(default="SCRATCH", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    database: str | None = Field(default=None, description="where scratch schemas go (default: the environment's)")


class TestEnvironmentsFile(StrictModel):
    test_environments: dict[str, TestEnvironmentSpec]


def load_test_environment(name: str, project_root: Path) -> TestEnvironmentSpec:
    path = project_root / TEST_ENVIRONMENTS_FILE
    environments = load_model(TestEnvironmentsFile, path).test_environments
    if name not in environments:
        raise ConfigError(f"{path}: unknown test environment {name!r} (known: {', '.join(sorted(environments))})")
    return environments[name]
