"""MetricComponent: a metric folder as a Dagster component, loaded by Dagster's own component
loader, and metrics merged into one location with the environment's resources bound once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from metricdag.errors import SpecError
from metricdag.factory import job_name, location_definitions, metric_definitions
from metricdag.resources import resources_for
from metricdag.settings import cached_environment, load_environment
from metricdag.spec.loader import load_metric
from tests.conftest import PROJECT_ROOT, copy_project

METRICS = PROJECT_ROOT / "metrics"


@pytest.fixture()
def offline_env(tmp_path, monkeypatch):
    """An environment whose catalog cache is empty and whose catalog URL answers nothing."""
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")  # discard port: nothing listens
    cached_environment.cache_clear()
    yield load_environment("local", PROJECT_ROOT)
    cached_environment.cache_clear()


def defs_of(name: str, env) -> dg.Definitions:
    return metric_definitions(load_metric(METRICS / name, PROJECT_ROOT), env)


def asset_keys(defs: dg.Definitions) -> set[str]:
    """Without resolving (that needs resources bound)."""
    keys = [k for a in defs.assets or [] for k in (a.keys if isinstance(a, dg.AssetsDefinition) else [a.key])]
    return {k.to_user_string() for k in keys}


def test_a_metrics_definitions_carry_no_resources(offline_env):
    defs = defs_of("daily_net_sales", offline_env)
    assert not defs.resources and defs.executor is None
    bound = location_definitions([defs], offline_env)  # bound once, at the location
    assert set(bound.resources) == set(resources_for(offline_env)) >= {"io_manager", "snowflake", "catalog"}


def test_two_metrics_merge_into_one_location_that_resolves(offline_env):
    sales, turnover = defs_of("daily_net_sales", offline_env), defs_of("inventory_turnover", offline_env)

    location = location_definitions([sales, turnover], offline_env)

    dg.Definitions.validate_loadable(location)
    repo = location.get_repository_def()
    assert {job_name("daily_net_sales"), job_name("inventory_turnover")} <= set(repo.job_names)
    for metric in ("daily_net_sales", "inventory_turnover"):
        job = repo.get_job(job_name(metric))
        assert "io_manager" in job.resource_defs and "persister" in job.resource_defs  # each job sees the bound resources
    turnover_input = dg.AssetKey(["daily_net_sales", "review", "product_sales_daily"])
    graph = repo.asset_graph
    assert graph.get(turnover_input).is_materializable  # the upstream metric's asset, no longer an external stand-in
    assert turnover_input in graph.get(dg.AssetKey(["inventory_turnover", "metric_calculation", "inventory_turnover_daily"])).parent_keys


def dg_project(root: Path, metric_folder: Path, monkeypatch) -> Path:
    """A dg project whose defs folder declares the metric in a defs.yaml (loaded by Dagster, not us)."""
    module = f"metrics_proj_{abs(hash(str(root)))}"  # its own name: Python keeps imported modules
    (root / "dg.toml").write_text(f'directory_type = "project"\n\n[project]\nroot_module = "{module}"\n')
    component = root / module / "defs" / "sales"
    component.mkdir(parents=True)
    (root / module / "__init__.py").write_text("")
    (component / "defs.yaml").write_text(f"type: metricdag.MetricComponent\nattributes:\n  path: {metric_folder}\n")
    monkeypatch.syspath_prepend(str(root))
    return root


def test_the_component_loads_from_a_dg_defs_folder(tmp_path, monkeypatch, offline_env):
    defs = dg.load_from_defs_folder(path_within_project=dg_project(tmp_path, METRICS / "daily_net_sales", monkeypatch))

    assert asset_keys(defs) == asset_keys(defs_of("daily_net_sales", offline_env))
    assert "daily_net_sales/persisted/net_sales_daily" in asset_keys(defs)
    assert not defs.resources
    dg.Definitions.validate_loadable(location_definitions([defs], offline_env))


def test_a_broken_metric_yaml_names_its_path_and_line(tmp_path, monkeypatch, offline_env):
    project = copy_project(tmp_path / "copy", ["daily_net_sales"])
    metric_yaml = project / "metrics" / "daily_net_sales" / "metric.yaml"
    metric_yaml.write_text(metric_yaml.read_text().replace("  - dataset: stores\n", "  - dataset: stores\n    colour: blue\n"))
    line = next(i for i, text in enumerate(metric_yaml.read_text().splitlines(), 1) if "colour" in text)
    (tmp_path / "proj").mkdir()
    monkeypatch.delenv("METRICDAG_HOME", raising=False)  # the project is the one around the metric

    with pytest.raises(Exception) as info:
        dg.load_from_defs_folder(path_within_project=dg_project(tmp_path / "proj", metric_yaml, monkeypatch))

    chain, current = [], info.value
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    assert any(isinstance(e, SpecError) and f"{metric_yaml}:{line}: unknown key 'colour'" in str(e) for e in chain), chain


def test_dg_lists_the_component_type():
    dg_cli = Path(sys.executable).with_name("dg")
    out = subprocess.run([str(dg_cli), "list", "components", "--json"], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr
    assert '"key": "metricdag.MetricComponent"' in out.stdout
