"""Which nodes ``snapshot bootstrap`` covers (no stack needed); what it publishes is in test_runner_on_stack.py."""

from __future__ import annotations

from metricdag.spec.loader import load_metric
from metricdag_testing.bootstrap import node_folder, node_folders, untested_nodes
from tests.conftest import PROJECT_ROOT, copy_project


def test_every_node_of_every_metric_has_a_test_config_where_bootstrap_looks():
    assert untested_nodes(PROJECT_ROOT) == []
    metric = load_metric(PROJECT_ROOT / "metrics" / "daily_net_sales", PROJECT_ROOT)
    folders = set(node_folders(PROJECT_ROOT))
    for layer, node in metric.spec.nodes():
        assert node_folder(metric.folder, layer, node.name) in folders


def test_a_node_without_a_test_config_is_reported(tmp_path):
    root = copy_project(tmp_path, ["daily_net_sales"])
    (root / "metrics" / "daily_net_sales" / "metric_calculation" / "product_sales" / "tests" / "test_config.yaml").unlink()

    assert untested_nodes(root) == ["daily_net_sales/product_sales"]
