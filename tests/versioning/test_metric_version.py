"""The metric version: stable across formatting and operational fields, new on any change to output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from metricdag.cli import main
from metricdag.spec.loader import load_metric
from metricdag.versioning import metric_version
from tests.conftest import copy_project

METRIC = "daily_net_sales"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path, [METRIC])


def version_of(root: Path) -> str:
    return metric_version(load_metric(root / "metrics" / METRIC, root)).version


def rewrite(root: Path, change) -> None:
    """Load metric.yaml, apply ``change`` to the data and write it back without its comments."""
    path = root / "metrics" / METRIC / "metric.yaml"
    yaml = YAML(typ="safe")
    data = yaml.load(path.read_text())
    change(data)
    yaml.default_flow_style = False
    with path.open("w") as fh:
        yaml.dump(data, fh)


def test_the_same_definition_gives_the_same_version_in_another_checkout(project: Path, tmp_path: Path) -> None:
    other = copy_project(tmp_path / "other", [METRIC])
    assert version_of(project) == version_of(other)
    assert len(version_of(project)) == 12


def test_comments_key_order_and_whitespace_do_not_count(project: Path) -> None:
    before = version_of(project)
    rewrite(project, lambda data: data)  # drops every comment and re-indents
    path = project / "metrics" / METRIC / "metric.yaml"
    lines = path.read_text().splitlines()
    path.write_text("\n\n".join(reversed(_top_level_blocks(lines))) + "\n")  # top-level keys reversed
    assert version_of(project) == before


def _top_level_blocks(lines: list[str]) -> list[str]:
    blocks: list[list[str]] = []
    for line in lines:
        if line and not line[0].isspace() and not line.startswith("-"):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks]


def test_fields_that_cannot_change_a_number_do_not_count(project: Path) -> None:
    before = version_of(project)

    def operational(data: dict) -> None:
        data["owner"] = "someone-else@example.com"
        data["description"] = "reworded"
        data["schedule"]["cron"] = "0 9 * * *"
        data["retry_policy"] = {"max_retries": 0}

    rewrite(project, operational)
    assert version_of(project) == before


def test_a_change_to_a_nodes_code_gives_a_new_version(project: Path) -> None:
    before = metric_version(load_metric(project / "metrics" / METRIC, project))
    source = project / "metrics" / METRIC / "metric_calculation" / "net_sales" / "src" / "net_sales.py"
    source.write_text(source.read_text() + "\n# a changed line of logic\n")
    after = metric_version(load_metric(project / "metrics" / METRIC, project))
    assert after.version != before.version
    changed = {p.name for p in after.parts} - set()
    assert {n for n, d in after.node_versions().items() if before.node_versions()[n] != d} == {"net_sales"}
    assert changed >= {"net_sales"}


def test_a_change_to_the_java_node_gives_a_new_version(project: Path) -> None:
    before = version_of(project)
    java = next((project / "metrics" / METRIC / "metric_calculation" / "basket_stats").rglob("*.java"))
    java.write_text(java.read_text() + "\n// changed\n")
    assert version_of(project) != before


@pytest.mark.parametrize(
    ("what", "change", "counts"),
    [
        ("a gating review bound", lambda d: d["review"][0]["checks"][0].update(min=2), True),
        ("a persist target", lambda d: d["persist"][0].update(table="METRICS.NET_SALES_DAILY_V2"), True),
        ("a node parameter", lambda d: d["metric_calculation"][0].setdefault("params", {}).update(extra=1), True),
        ("a warn-only check", lambda d: d["review"][0]["checks"].append(
            {"type": "record_count", "min": 1, "severity": "warn"}), False),
    ],
)
def test_what_gates_or_lands_counts_and_what_only_reports_does_not(project: Path, what, change, counts) -> None:
    before = version_of(project)
    rewrite(project, change)
    assert (version_of(project) != before) is counts, what


def test_metricdag_version_prints_the_version_and_its_parts(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METRICDAG_HOME", str(project))
    assert main(["version", METRIC, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric_version"] == version_of(project)
    assert {"kind": "node", "name": "net_sales"}.items() <= next(p for p in out["parts"] if p["name"] == "net_sales").items()
    assert main(["version", "daily_net_sale"]) == 1
    assert "did you mean 'daily_net_sales'?" in capsys.readouterr().err
