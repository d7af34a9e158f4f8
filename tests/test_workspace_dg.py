"""The dg workspace as a developer uses it: `dg check defs` over every metric's code location
(a broken metric fails alone, naming its path:line), `dg list defs` per metric, and the
generated workspace files in sync with metrics/*/."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from metricdag.factory import build_metric_definitions
from metricdag.settings import load_environment
from metricdag.spec.loader import discover_metric_folders
from metricdag.workspace import dg_command, metric_folder_names, out_of_date, write_workspace
from tests.conftest import PROJECT_ROOT, copy_project


def dg_env(project: Path, local_dir: Path) -> dict[str, str]:
    """A plain shell's environment for ``project``: no Dagster instance (dg uses a temporary one),
    an empty catalog cache and a catalog URL that answers nothing (no network while loading)."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return {**env, "METRICDAG_HOME": str(project), "METRICDAG_LOCAL_DIR": str(local_dir), "METRICDAG_CATALOG_PORT": "9"}


def run_dg(project: Path, tmp_path: Path, command: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    argv = dg_command(project, command, *args)
    if cwd is not None:  # a command inside one metric's project (dg list defs)
        argv = [argv[0], *command.split(), *args]
    return subprocess.run(argv, cwd=cwd or project, env=dg_env(project, tmp_path / "local"), capture_output=True,
                          text=True, timeout=600)


def test_dg_check_defs_loads_every_metric_location(tmp_path):
    result = run_dg(PROJECT_ROOT, tmp_path, "check defs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout


def test_dg_check_defs_fails_a_broken_metric_alone_with_its_path_and_line(tmp_path):
    project = copy_project(tmp_path / "project", ["daily_net_sales", "daily_net_sales_sql"])
    metric_yaml = project / "metrics" / "daily_net_sales_sql" / "metric.yaml"
    metric_yaml.write_text(metric_yaml.read_text() + "not_a_field: 1\n")
    line = len(metric_yaml.read_text().splitlines())
    write_workspace(project)

    result = run_dg(project, tmp_path, "check defs")

    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Validation failed for code location daily_net_sales_sql" in out
    assert f"{metric_yaml}:{line}: unknown key 'not_a_field'" in out
    assert "Validation failed for code location daily_net_sales:" not in out  # the other location loaded


@pytest.mark.parametrize("name", metric_folder_names(PROJECT_ROOT))
def test_dg_list_defs_in_a_metric_folder_lists_its_assets(name, tmp_path, monkeypatch):
    result = run_dg(PROJECT_ROOT, tmp_path, "list defs", "--json", cwd=PROJECT_ROOT / "metrics" / name)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)

    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")
    defs = build_metric_definitions(PROJECT_ROOT / "metrics" / name, load_environment("local", PROJECT_ROOT))
    expected = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {a["asset_key"] for a in listed["assets"]} == expected
    assert f"{name}__daily" in {j["name"] for j in listed["jobs"]}
    assert {"io_manager", "snowflake", "persister"} <= {r["name"] for r in listed["resources"]}


def test_the_workspace_lists_every_metric_folder_and_regenerates(tmp_path):
    assert metric_folder_names(PROJECT_ROOT) == [f.name for f in discover_metric_folders(PROJECT_ROOT)]
    project = copy_project(tmp_path, ["daily_net_sales"])  # without the root dg.toml
    folder = project / "metrics" / "daily_net_sales"
    (folder / "definitions.py").unlink()
    (folder / "dg.toml").write_text((folder / "dg.toml").read_text().replace("daily_net_sales", "renamed"))
    stale = {"dg.toml", "metrics/daily_net_sales/dg.toml", "metrics/daily_net_sales/definitions.py"}
    assert {p.relative_to(project).as_posix() for p in out_of_date(project)} == stale

    written = write_workspace(project)

    assert {p.relative_to(project).as_posix() for p in written} == stale and out_of_date(project) == []
    assert '{ path = "metrics/daily_net_sales" }' in (project / "dg.toml").read_text()
    assert 'code_location_name = "daily_net_sales"' in (project / "metrics" / "daily_net_sales" / "dg.toml").read_text()
