"""What the factory generates, as a reviewable snapshot, and how it loads."""

from __future__ import annotations

import json
import os
import socket
import warnings
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.build import partition_for_tick
from metricdag.settings import load_environment
from metricdag.spec.loader import discover_metric_folders
from tests.conftest import PROJECT_ROOT

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture()
def offline_env(tmp_path, monkeypatch):
    """An environment whose catalog cache is empty and whose catalog URL answers nothing."""
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")  # discard port: nothing listens
    return load_environment("local", PROJECT_ROOT)


def _retry(policy: dg.RetryPolicy | None) -> dict | None:
    if policy is None:
        return None
    return {"max_retries": policy.max_retries, "delay": policy.delay, "backoff": str(policy.backoff), "jitter": str(policy.jitter)}


def describe(defs: dg.Definitions, metric: str) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.path):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "group": node.group_name,
            "description": node.description,
            "owners": list(node.owners),
            "tags": dict(sorted(node.tags.items())),
            "kinds": sorted(node.kinds),
            "partitions": str(node.partitions_def),
            "retry": _retry(node.assets_def.op.retry_policy) if node.is_executable else None,
            "executable": node.is_executable,  # False: another metric's output, materialized in its own location
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        spec = graph.get_check_spec(check_key)
        checks[check_key.to_user_string()] = {"blocking": spec.blocking, "description": spec.description}
    job = defs.resolve_job_def(job_name(metric))
    schedule = defs.resolve_schedule_def(f"{metric}__schedule")
    return {
        "assets": assets,
        "checks": checks,
        "job": {"name": job.name, "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys)},
        "schedule": {"cron": schedule.cron_schedule, "timezone": schedule.execution_timezone, "job": schedule.job_name},
    }


REGENERATE = "METRICDAG_UPDATE_SNAPSHOTS=1 .venv/bin/pytest -q tests/factory/test_definitions.py"


def compare_with_snapshot(actual: dict, path: Path, environ=os.environ) -> None:
    """``actual`` must equal the committed snapshot at ``path``.

    ``METRICDAG_UPDATE_SNAPSHOTS=1`` (re)writes it: the one deliberate way to regenerate. A missing
    snapshot fails in CI (``CI=true``), so CI never passes on a snapshot it just wrote; on a
    developer's machine the first run writes it, warns, and it is then to be committed.
    """
    if environ.get("METRICDAG_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    elif not path.exists():
        if environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{path} is missing: generate it with `{REGENERATE}` and commit it", pytrace=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
        warnings.warn(f"wrote the missing snapshot {path}: review and commit it", stacklevel=2)
    assert actual == json.loads(path.read_text()), f"generation changed: review the diff, regenerate with `{REGENERATE}`"


@pytest.mark.parametrize("folder", discover_metric_folders(PROJECT_ROOT), ids=lambda p: p.name)
def test_generated_definitions_match_snapshot(folder, offline_env):
    """A change to generation shows up as a diff. Regenerate with METRICDAG_UPDATE_SNAPSHOTS=1."""
    actual = describe(build_metric_definitions(folder, offline_env), folder.name)
    compare_with_snapshot(actual, SNAPSHOTS / f"{folder.name}.json")


def test_in_ci_a_missing_snapshot_fails_and_writes_nothing(tmp_path):
    path = tmp_path / "snapshots" / "new_metric.json"

    with pytest.raises(pytest.fail.Exception, match="new_metric.json is missing: generate it with `METRICDAG_UPDATE_SNAPSHOTS=1"):
        compare_with_snapshot({"assets": {}}, path, environ={"CI": "true"})
    assert not path.exists()


def test_outside_ci_a_missing_snapshot_is_written_with_a_warning_and_update_rewrites(tmp_path):
    path = tmp_path / "snapshots" / "new_metric.json"

    with pytest.warns(UserWarning, match="wrote the missing snapshot"):
        compare_with_snapshot({"assets": {"a": 1}}, path, environ={})
    assert json.loads(path.read_text()) == {"assets": {"a": 1}}
    with pytest.raises(AssertionError, match="generation changed"):
        compare_with_snapshot({"assets": {"a": 2}}, path, environ={"CI": "true"})
    compare_with_snapshot({"assets": {"a": 2}}, path, environ={"CI": "true", "METRICDAG_UPDATE_SNAPSHOTS": "1"})
    assert json.loads(path.read_text()) == {"assets": {"a": 2}}


def all_metric_definitions(env) -> dict[str, dg.Definitions]:
    return {f.name: build_metric_definitions(f, env) for f in discover_metric_folders(PROJECT_ROOT)}


def test_every_asset_has_a_description_naming_its_metric(offline_env):
    for name, defs in all_metric_definitions(offline_env).items():
        graph = defs.resolve_asset_graph()
        for key in graph.get_all_asset_keys():
            node = graph.get(key)
            assert node.description and node.description.strip(), f"{key.to_user_string()} has no description"
            if node.is_executable:
                assert f"Metric `{name}`" in node.description, key.to_user_string()
    sales = all_metric_definitions(offline_env)["daily_net_sales"].resolve_asset_graph()
    net = sales.get(dg.AssetKey(["daily_net_sales", "metric_calculation", "net_sales_daily"])).description
    assert "output of metric_calculation node `net_sales`" in net
    assert "Net sales (sales - discounts - returns) per store and business day" in net  # metric.yaml's description


def test_each_metrics_layers_are_their_own_groups(offline_env):
    """The global asset graph groups by group name: two metrics must never share a group."""
    groups: dict[str, set[str]] = {}
    for name, defs in all_metric_definitions(offline_env).items():
        graph = defs.resolve_asset_graph()
        for key in graph.get_all_asset_keys():
            node = graph.get(key)
            owner, layer = key.path[0], key.path[1]  # another metric's asset keeps that metric's group
            assert node.group_name == f"{owner}__{layer}", key.to_user_string()
            if node.is_executable:
                groups.setdefault(name, set()).add(node.group_name)
    assert groups["daily_net_sales"].isdisjoint(groups["inventory_turnover"])
    assert "daily_net_sales__metric_calculation" in groups["daily_net_sales"]


def test_definitions_load_makes_no_network_call(offline_env, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network call while loading definitions: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    defs = build_metric_definitions(PROJECT_ROOT / "metrics" / "daily_net_sales", offline_env)
    assert len(defs.resolve_asset_graph().get_all_asset_keys()) == 12


def test_one_partitions_definition_is_shared(offline_env):
    defs = build_metric_definitions(PROJECT_ROOT / "metrics" / "daily_net_sales", offline_env)
    graph = defs.resolve_asset_graph()
    parts = {id(graph.get(k).partitions_def) for k in graph.get_all_asset_keys()}
    assert len(parts) == 1


def test_a_tick_computes_yesterday_in_the_metrics_timezone():
    assert partition_for_tick(datetime(2024, 6, 4, 6, 30, tzinfo=timezone.utc), "UTC") == "2024-06-03"
    assert partition_for_tick(datetime(2024, 6, 4, 1, 0, tzinfo=timezone.utc), "America/Los_Angeles") == "2024-06-02"
    assert partition_for_tick(datetime(2024, 6, 3, 23, 0, tzinfo=timezone.utc), "Asia/Tokyo") == "2024-06-03"


def test_dg_workspace_is_in_sync_with_metric_folders():
    from metricdag.workspace import out_of_date

    assert out_of_date(PROJECT_ROOT) == [], "the dg workspace is out of date: run `metricdag workspace`"


def test_input_from_another_metric_is_that_locations_reviewed_asset(offline_env):
    """inventory_turnover reads daily_net_sales' accepted product sales: the same asset key, materialized
    only by daily_net_sales' code location, so the workspace's asset graph joins the two."""
    key = dg.AssetKey(["daily_net_sales", "review", "product_sales_daily"])
    turnover = build_metric_definitions(PROJECT_ROOT / "metrics" / "inventory_turnover", offline_env)
    sales = build_metric_definitions(PROJECT_ROOT / "metrics" / "daily_net_sales", offline_env)
    turnover_graph, sales_graph = turnover.resolve_asset_graph(), sales.resolve_asset_graph()

    node = turnover_graph.get(dg.AssetKey(["inventory_turnover", "metric_calculation", "inventory_turnover_daily"]))
    assert key in node.parent_keys
    assert not turnover_graph.get(key).is_executable
    assert key not in turnover.resolve_job_def(job_name("inventory_turnover")).asset_layer.selected_asset_keys
    assert sales_graph.get(key).is_materializable
    assert turnover_graph.get(key).partitions_def == sales_graph.get(key).partitions_def


def test_jvm_nodes_have_their_language_as_kind(offline_env):
    graph = build_metric_definitions(PROJECT_ROOT / "metrics" / "daily_net_sales", offline_env).resolve_asset_graph()
    basket = graph.get(dg.AssetKey(["daily_net_sales", "metric_calculation", "basket_stats_daily"]))

    assert basket.kinds == {"java"}
    assert basket.code_version and len(basket.code_version) == 16


def test_every_asset_backfills_one_partition_per_run(offline_env):
    """A backfill launched from the UI runs each day as its own run, through the same
    day-by-day path as the schedule (every asset reads one partition key)."""
    for name, defs in all_metric_definitions(offline_env).items():
        graph = defs.resolve_asset_graph()
        executable = [graph.get(k) for k in graph.get_all_asset_keys() if graph.get(k).is_executable]
        assert len(executable) > 3, name
        for node in executable:
            assert node.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=1), node.key
