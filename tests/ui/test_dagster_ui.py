"""The Dagster UI as a user meets it: every metric location loaded, one partition
materialized through the GraphQL API, and a screenshot of the asset graph in a real browser.

Skipped only when Chromium is not installed (the Makefile installs Debian's `chromium` when it
can; the skip message says so). Everything runs on loopback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
import requests

from metricdag.factory import job_name
from metricdag.factory.naming import group_name
from metricdag.spec.loader import discover_metric_folders, load_metric
from metricdag.workspace import dg_command, write_workspace
from metricdag_localstack.processes import free_port, stop_process_group, wait_for_port
from tests.conftest import PROJECT_ROOT, copy_project

pytestmark = pytest.mark.stack  # every test here needs the local stack

ARTIFACTS = PROJECT_ROOT / "reports" / "ui"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

LOCATIONS_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on RepositoryLocation { repositories { name
      assetNodes { assetKey { path } hasAssetChecks groupName description isMaterializable }
      jobs { name } } }
      ... on PythonError { message } } } } } }
"""

LAUNCH = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }
"""

RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def gql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
def dagster_ui(seeded_env, tmp_path_factory):
    """`dg dev` over the dg workspace, as `make dev` runs it, of a copy of the project: dg loads the
    `.env` of the workspace root into every code location, and the repository's `.env` holds the
    developer's local secrets, not this session's stack's."""
    port = free_port()
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PROJECT_ROOT / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    project = copy_project(tmp_path_factory.mktemp("project"))
    write_workspace(project)
    log = home / "dagster-dev.log"
    proc = subprocess.Popen(
        dg_command(project, "dev", "-h", "127.0.0.1", "-p", str(port)),
        cwd=home,
        env={**os.environ, "DAGSTER_HOME": str(home), "METRICDAG_HOME": str(project)},  # storage under this temp home
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, 120, proc=proc, log_path=log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the webserver answers before code locations load
            entries = gql(url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
            if entries and all(e["locationOrLoadError"] for e in entries):
                break
            time.sleep(1)
        yield url
    finally:
        stop_process_group(proc.pid, timeout_s=20)


def test_every_metric_location_loads_with_its_assets_and_checks(dagster_ui):
    entries = {e["name"]: e["locationOrLoadError"] for e in gql(dagster_ui, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]}
    metrics = {f.name: load_metric(f, PROJECT_ROOT) for f in discover_metric_folders(PROJECT_ROOT)}
    assert set(entries) == set(metrics)
    for name, location in entries.items():
        assert location["__typename"] == "RepositoryLocation", location
        nodes = [n for repo in location["repositories"] for n in repo["assetNodes"]]
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        spec = metrics[name].spec
        for layer, node in spec.nodes():
            for out in node.output_names:
                assert f"{name}/{layer}/{out}" in keys
        reviewed = {r.dataset for r in spec.review}
        checked = {"/".join(n["assetKey"]["path"]).split("/")[-1] for n in nodes if n["hasAssetChecks"]}
        assert reviewed <= checked
        assert job_name(name) in {j["name"] for repo in location["repositories"] for j in repo["jobs"]}
        own = [n for n in nodes if n["isMaterializable"]]
        assert {n["groupName"] for n in own} == {group_name(name, layer) for layer in {n["assetKey"]["path"][1] for n in own}}
        assert all(n["description"] and f"Metric `{name}`" in n["description"] for n in own), "an asset without description"


def test_the_global_asset_graph_tells_metrics_apart(dagster_ui):
    """The global graph groups by group name: no group holds assets of two metrics."""
    entries = gql(dagster_ui, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
    owners: dict[str, set[str]] = {}
    for entry in entries:
        for repo in entry["locationOrLoadError"]["repositories"]:
            for node in repo["assetNodes"]:
                owners.setdefault(node["groupName"], set()).add(node["assetKey"]["path"][0])
    assert all(len(metrics) == 1 for metrics in owners.values()), owners
    assert {"daily_net_sales__metric_calculation", "inventory_turnover__metric_calculation"} <= set(owners)


def test_materialize_one_partition_through_the_api(dagster_ui, seeded_env):
    day = seeded_env.localstack.sample.end_date.isoformat()
    params = {
        "selector": {"repositoryLocationName": "daily_net_sales", "repositoryName": "__repository__",
                     "jobName": job_name("daily_net_sales")},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
        "runConfigData": {"execution": {"config": {"in_process": {}}}},  # the executor is not under test here
    }
    launched = gql(dagster_ui, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status, deadline = None, time.monotonic() + 300
    while time.monotonic() < deadline:
        status = gql(dagster_ui, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make installs Debian's chromium when run as root)")
def test_screenshot_of_the_asset_graph(dagster_ui, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "asset-graph.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-quic", "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1600,1000", "--virtual-time-budget=20000", f"--screenshot={shot}",
         f"{dagster_ui}/locations/daily_net_sales/asset-groups/{group_name('daily_net_sales', 'metric_calculation')}"],
        check=True, timeout=120, capture_output=True,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000  # a rendered page, not a blank one
