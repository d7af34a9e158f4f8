"""metric.yaml for JVM nodes, per-node timeouts and inputs from another metric, reported at their line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metricdag.errors import SpecError
from metricdag.spec.loader import load_metric
from tests.spec.test_metric_yaml import MARK, REPO, copy_example, edit_yaml, line_with

JAVA_ENTRYPOINT = "    entrypoint: metric_calculation/basket_stats/src:BasketStats\n"


def only_problem(folder: Path, root: Path, path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_metric(folder, project_root=root)
    reported = str(info.value).splitlines()
    assert len(reported) == 1, reported
    prefix = f"{path}:{line_with(path)}: "
    assert reported[0].startswith(prefix), reported[0]
    return reported[0][len(prefix) :]


@pytest.mark.parametrize(
    ("replacement", "words"),
    [
        ("    entrypoint: metric_calculation/basket_stats/src/BasketStats.java", ["java node", "path/to/src:MainClass"]),
        ("    entrypoint: metric_calculation/basket_stats/src:Basket-Stats", ["java node", "MainClass"]),
        ("    entrypoint: metric_calculation/basket_stats/src:BasketStats.main()", ["java node"]),
        ("    entrypoint: ../elsewhere/src:BasketStats", ["inside the metric folder"]),
        ("    entrypoint: metric_calculation/basket/src:BasketStats", ["source folder 'metric_calculation/basket/src'", "does not exist"]),
        ("    entrypoint: metric_calculation/basket_stats/tests:BasketStats", ["has no .java files"]),
    ],
    ids=["file_not_folder", "bad_class", "method", "outside", "missing_folder", "no_sources"],
)
def test_jvm_entrypoint_mistakes(tmp_path, replacement, words):
    folder = copy_example(tmp_path)
    path = edit_yaml(folder, (JAVA_ENTRYPOINT, f"{replacement}  {MARK}\n"))

    message = only_problem(folder, tmp_path, path)

    for word in words:
        assert word in message, (word, message)


def test_python_entrypoint_form_is_unchanged(tmp_path):
    folder = copy_example(tmp_path)
    path = edit_yaml(folder, ("net_sales/src/net_sales.py:run", f"net_sales/src:NetSales  {MARK}"))

    assert "path/to/file.py:function" in only_problem(folder, tmp_path, path)


def test_unknown_language(tmp_path):
    folder = copy_example(tmp_path)
    path = edit_yaml(folder, ("    language: java\n", f"    language: kotlin  {MARK}\n"))

    message = only_problem(folder, tmp_path, path)

    assert "'python', 'java', 'scala' or 'sql'" in message


@pytest.mark.parametrize("value", ["0", "86401", "soon"])
def test_timeout_out_of_range(tmp_path, value):
    folder = copy_example(tmp_path)
    path = edit_yaml(folder, ("    timeout_s: 600\n", f"    timeout_s: {value}  {MARK}\n"))

    assert "timeout_s" in only_problem(folder, tmp_path, path)


def test_jvm_node_fields_are_read(tmp_path):
    metric = load_metric(REPO / "metrics" / "daily_net_sales", REPO)
    node = next(n for _, n in metric.spec.nodes() if n.name == "basket_stats")

    assert (node.language, node.is_jvm, node.entrypoint_path, node.main_class, node.timeout_s) == (
        "java", True, "metric_calculation/basket_stats/src", "BasketStats", 600,
    )  # fmt: skip


def copy_turnover(root: Path) -> Path:
    copy_example(root)
    folder = root / "metrics" / "inventory_turnover"
    shutil.copytree(REPO / "metrics" / "inventory_turnover", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_inventory_turnover_reads_from_daily_net_sales(tmp_path):
    metric = load_metric(copy_turnover(tmp_path), project_root=tmp_path)

    assert metric.spec.upstream_metrics() == {"daily_net_sales"}


@pytest.mark.parametrize(
    ("replacement", "words"),
    [
        ("from_metric: daily_gross_sales", ["unknown metric 'daily_gross_sales'"]),
        ("from_metric: inventory_turnover", ["cannot read its own output"]),
    ],
    ids=["unknown_metric", "itself"],
)
def test_from_metric_mistakes(tmp_path, replacement, words):
    folder = copy_turnover(tmp_path)
    path = edit_yaml(folder, ("from_metric: daily_net_sales", f"{replacement}  {MARK}"))

    message = only_problem(folder, tmp_path, path)

    for word in words:
        assert word in message
