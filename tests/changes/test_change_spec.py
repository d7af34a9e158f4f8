"""The change: section of metric.yaml: validated with path:line errors, outside the metric version."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricdag.errors import SpecError
from metricdag.spec.loader import load_metric
from metricdag.spec.models import parse_fraction
from metricdag.versioning import metric_version
from tests.conftest import copy_project

METRIC = "daily_net_sales"
CHANGE = """
change:
  description: service charge included
  expect:
    net_sales_usd: {rel: "+10%", tolerance: "1%"}
  unchanged: [units_sold]
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, [METRIC])


def metric_yaml(root: Path) -> Path:
    return root / "metrics" / METRIC / "metric.yaml"


def load(root: Path):
    return load_metric(root / "metrics" / METRIC, root)


def test_a_change_declaration_loads_and_does_not_change_the_metric_version(project: Path) -> None:
    before = metric_version(load(project)).version
    metric_yaml(project).write_text(metric_yaml(project).read_text() + CHANGE)
    metric = load(project)
    change = metric.spec.change
    assert change is not None
    assert change.expect["net_sales_usd"].rel_fraction == pytest.approx(0.10)
    assert change.expect["net_sales_usd"].tolerance_fraction == pytest.approx(0.01)
    assert change.unchanged == ["units_sold"]
    assert metric_version(metric).version == before


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('rel: "ten percent"', "rel 'ten percent' must be a percentage like '+10%'"),
        ('rel: "+10%", tolerance: "-1%"', "tolerance '-1%' must not be negative"),
        ('rel: "+10%", within: "1%"', "unknown key 'within'"),
    ],
)
def test_a_bad_declaration_is_reported_at_its_line(project: Path, bad: str, message: str) -> None:
    text = CHANGE.replace('rel: "+10%", tolerance: "1%"', bad)
    metric_yaml(project).write_text(metric_yaml(project).read_text() + text)
    line = next(i for i, t in enumerate(metric_yaml(project).read_text().splitlines(), 1) if "net_sales_usd: {" in t)
    with pytest.raises(SpecError) as info:
        load(project)
    assert f"{metric_yaml(project)}:{line}: " in str(info.value)
    assert message in str(info.value)


def test_a_column_both_expected_and_unchanged_is_an_error(project: Path) -> None:
    metric_yaml(project).write_text(metric_yaml(project).read_text() + CHANGE.replace("[units_sold]", "[net_sales_usd]"))
    with pytest.raises(SpecError, match="net_sales_usd are both expected to change and unchanged"):
        load(project)


@pytest.mark.parametrize(("text", "value"), [("+10%", 0.1), ("-2.5%", -0.025), ("0%", 0.0), (0.1, 0.1), (".5%", 0.005)])
def test_percentages_and_fractions(text, value) -> None:
    assert parse_fraction(text, "rel") == pytest.approx(value)
