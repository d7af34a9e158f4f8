"""Every asset of a metric carries its metric version, and the accepted and persisted assets take
it as their code version: after a definition change Dagster shows them unsynced."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.factory import build_metric_definitions
from metricdag.settings import load_environment
from metricdag.spec.loader import load_metric
from metricdag.versioning import metric_version
from tests.conftest import PROJECT_ROOT, copy_project

METRIC = "daily_net_sales"
PERSISTED = dg.AssetKey([METRIC, "persisted", "net_sales_daily"])
REVIEWED = dg.AssetKey([METRIC, "review", "net_sales_daily"])
NODE = dg.AssetKey([METRIC, "metric_calculation", "net_sales_daily"])


@pytest.fixture()
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")  # nothing listens: definitions load is offline
    return copy_project(tmp_path / "project", [METRIC])


def graph(root):
    env = load_environment("local", root)
    return build_metric_definitions(root / "metrics" / METRIC, env).resolve_asset_graph()


def test_every_asset_carries_the_metric_version(project):
    version = metric_version(load_metric(project / "metrics" / METRIC, project)).version
    assets = graph(project)
    own = [key for key in assets.get_all_asset_keys() if key.path[0] == METRIC]
    assert own and all(assets.get(key).metadata["metricdag/metric_version"] == version for key in own)
    assert assets.get(PERSISTED).code_version == version and assets.get(REVIEWED).code_version == version


def test_a_changed_gating_check_changes_the_persisted_code_version_only(project):
    before = graph(project)
    path = project / "metrics" / METRIC / "metric.yaml"
    path.write_text(path.read_text().replace("min: 10000", "min: 20000"))
    after = graph(project)

    assert after.get(PERSISTED).code_version != before.get(PERSISTED).code_version
    assert after.get(REVIEWED).code_version != before.get(REVIEWED).code_version
    assert after.get(NODE).code_version == before.get(NODE).code_version  # the node itself did not change
