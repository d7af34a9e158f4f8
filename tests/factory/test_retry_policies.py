"""Named retry policies reach the generated steps: per metric, overridden per node, or inline."""

from __future__ import annotations

import dagster as dg

from metricdag.factory import build_metric_definitions
from metricdag.settings import load_environment
from tests.conftest import copy_project


def op_retry(defs: dg.Definitions, *path: str) -> dg.RetryPolicy | None:
    return defs.resolve_asset_graph().get(dg.AssetKey(list(path))).assets_def.op.retry_policy


def test_metric_policy_with_a_node_override(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")  # nothing listens: definitions load stays offline
    project = copy_project(tmp_path, ["daily_net_sales"])
    path = project / "metrics" / "daily_net_sales" / "metric.yaml"
    text = path.read_text()
    text = text.replace(
        "retry_policy: default ", "retry_policy: {max_retries: 1, delay_s: 3, backoff: linear, jitter: none} "
    )
    text = text.replace("    timeout_s: 600\n", "    timeout_s: 600\n    retry_policy: patient\n")  # basket_stats
    text = text.replace(
        "    entrypoint: preprocessing/clean_pos_transactions.py:run\n",
        "    entrypoint: preprocessing/clean_pos_transactions.py:run\n    retry_policy: none\n",
    )
    path.write_text(text)

    defs = build_metric_definitions(path.parent, load_environment("local", project))

    inline = op_retry(defs, "daily_net_sales", "metric_calculation", "net_sales_daily")
    assert (inline.max_retries, inline.delay, inline.backoff, inline.jitter) == (1, 3, dg.Backoff.LINEAR, None)
    assert op_retry(defs, "daily_net_sales", "sourcing", "stores") == inline
    assert op_retry(defs, "daily_net_sales", "persisted", "net_sales_daily") == inline
    patient = op_retry(defs, "daily_net_sales", "metric_calculation", "basket_stats_daily")
    assert (patient.max_retries, patient.delay, patient.backoff, patient.jitter) == (
        5, 60, dg.Backoff.EXPONENTIAL, dg.Jitter.FULL,
    )
    assert op_retry(defs, "daily_net_sales", "preprocessing", "pos_transactions_clean") is None  # 'none': no retries


def test_an_inline_policy_without_a_delay_loads_and_retries_at_once(tmp_path, monkeypatch):
    """`{max_retries: 2}` keeps the default backoff and jitter, which only scale a delay."""
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")
    project = copy_project(tmp_path, ["daily_net_sales"])
    path = project / "metrics" / "daily_net_sales" / "metric.yaml"
    path.write_text(path.read_text().replace("retry_policy: default ", "retry_policy: {max_retries: 2} "))

    defs = build_metric_definitions(path.parent, load_environment("local", project))

    policy = op_retry(defs, "daily_net_sales", "sourcing", "stores")
    assert (policy.max_retries, policy.delay, policy.backoff, policy.jitter) == (2, None, None, None)
