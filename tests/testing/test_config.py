"""tests/test_config.yaml and test-environments.yaml: every problem is path:line: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricdag.errors import ConfigError, SpecError
from metricdag.spec.node_tests import load_node_under_test, load_test_environment
from tests.conftest import PROJECT_ROOT, copy_project

NODE = Path("metrics/daily_net_sales/metric_calculation/net_sales")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, ["daily_net_sales"])


def write_config(project: Path, text: str) -> Path:
    path = project / NODE / "tests" / "test_config.yaml"
    path.write_text(text)
    return path


VALID = """\
node_name: net_sales
test_environment: local_scratch
partition_date: "2024-06-03"
snapshots:
  inputs:
    - {dataset_id: pos_transactions_clean_sample, dataset: pos_transactions_clean}
    - {dataset_id: fx_rates}
  baseline_outputs:
    - dataset_id: net_sales_daily_baseline
      dataset: net_sales_daily
      tolerance: {net_sales_usd: 0.01, gross_sales_usd: {abs: 0.01, rel: 0.001}}
bdd_tests:
  - feature_file: bdd/net_sales.feature
"""


def test_the_example_configs_load() -> None:
    nut = load_node_under_test(PROJECT_ROOT / NODE, PROJECT_ROOT)
    assert nut.node.name == "net_sales" and nut.metric.name == "daily_net_sales"


def test_a_valid_config_maps_snapshots_to_node_datasets(project: Path) -> None:
    write_config(project, VALID)
    nut = load_node_under_test(project / NODE, project)
    assert [u.logical_name for u in nut.config.snapshots.inputs] == ["pos_transactions_clean", "fx_rates"]
    tol = nut.config.snapshots.baseline_outputs[0].tolerances()
    assert tol["net_sales_usd"].abs == 0.01 and tol["gross_sales_usd"].rel == 0.001


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("node_name: net_sales", "node_name: no_such_node", 1, "not a node of metric 'daily_net_sales'"),
        ("test_environment: local_scratch", "test_environment: local scratch", 2, "test_environment"),
        ('partition_date: "2024-06-03"', "partition_date: someday", 3, "partition_date"),
        ("{dataset_id: fx_rates}", "{dataset_id: fx_rates, colour: red}", 7, "unknown key 'colour'"),
        ("dataset: net_sales_daily", "dataset: gross_sales", 10, "'gross_sales' is not an output of node 'net_sales'"),
        ("{dataset_id: fx_rates}", "{dataset_id: fx_rates_v2}", 7, "'fx_rates_v2' is not an input"),
        ("feature_file: bdd/net_sales.feature", "feature_file: bdd/missing.feature", 13, "bdd/missing.feature does not exist"),
        ("net_sales_usd: 0.01,", "net_sales_usd: -1,", 11, "tolerance"),
    ],
)
def test_problems_are_reported_as_path_line_message(project: Path, old: str, new: str, line: int, message: str) -> None:
    assert old in VALID
    path = write_config(project, VALID.replace(old, new))
    with pytest.raises(SpecError) as info:
        load_node_under_test(project / NODE, project)
    lines = str(info.value).splitlines()
    assert any(x.startswith(f"{path}:{line}: ") and message in x for x in lines), lines


def test_a_node_input_without_a_snapshot_is_reported(project: Path) -> None:
    path = write_config(project, VALID.replace("    - {dataset_id: fx_rates}\n", ""))
    with pytest.raises(SpecError, match=f"{path}:5: snapshots.inputs: no snapshot for node input\\(s\\) fx_rates"):
        load_node_under_test(project / NODE, project)


def test_an_unknown_test_environment_names_the_file(project: Path) -> None:
    with pytest.raises(ConfigError, match="test-environments.yaml: unknown test environment 'nowhere' \\(known: "):
        load_test_environment("nowhere", project)
