"""The Java and Scala sample nodes in a real run: what their programs report through Dagster Pipes
(metadata, log lines, an asset-check result) is on the run's materializations and in its event log."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag_localstack.seed import sample_days
from metricdag.day_run import materialize_metric
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.stack

BASKETS = dg.AssetKey(["daily_net_sales", "metric_calculation", "basket_stats_daily"])
TURNOVER = dg.AssetKey(["inventory_turnover", "metric_calculation", "inventory_turnover_daily"])


def latest(instance: dg.DagsterInstance, key: dg.AssetKey):
    records = instance.fetch_materializations(key, limit=1).records
    assert records, f"{key.to_user_string()} was not materialized"
    return records[0]


def messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_jvm_nodes_report_metadata_logs_and_checks_through_pipes(seeded_env):
    day = sample_days(seeded_env)[0].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    for metric in ("daily_net_sales", "inventory_turnover"):
        ok, summary = materialize_metric(PROJECT_ROOT / "metrics" / metric, seeded_env, day, instance)
        assert ok, summary

    baskets = latest(instance, BASKETS)
    metadata = baskets.asset_materialization.metadata
    assert metadata["dagster/row_count"].value == 18  # one row per trading store
    assert metadata["input_lines"].value > metadata["return_lines_left_out"].value > 0
    assert metadata["node_seconds"].value > 0
    logged = messages(instance, baskets.run_id)
    # the program's own log line, through Pipes (stdout lines are logged as "basket_stats | ...")
    assert any(m.startswith("basket_stats: ") and m.endswith(" store-days written") for m in logged), logged
    assert "[pipes] external process successfully opened dagster pipes." in logged
    checks = [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(baskets.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    reported = [c for c in checks if c.check_name == "baskets_have_items"]
    assert [(c.asset_key, c.passed) for c in reported] == [(BASKETS, True)]
    assert reported[0].metadata["store_days_with_less_than_one_item_per_basket"].value == 0

    turnover = latest(instance, TURNOVER)
    metadata = turnover.asset_materialization.metadata
    assert metadata["dagster/row_count"].value == metadata["snapshot_rows"].value > 0
    assert metadata["sold_without_snapshot"].value >= 0
    logged = messages(instance, turnover.run_id)
    assert any(m.startswith("turnover: ") and m.endswith(" rows written") for m in logged), logged
