"""Permanent failures outside an asset's body fail the step after one attempt, despite its
RetryPolicy: a missing upstream partition, a review file the run did not write.

The jobs are the factory's own (``inventory_turnover`` with its ``default`` policy: 2 retries,
10 s delay), run in process against a file:// object store, offline: the steps fail before
they would reach any server.
"""

from __future__ import annotations

import time

import dagster as dg
import pandas as pd
import pytest

from metricdag.factory import build_metric_definitions, job_name
from metricdag.settings import load_environment
from tests.conftest import copy_project

METRIC = "inventory_turnover"
DAY = "2024-06-01"
TURNOVER = dg.AssetKey([METRIC, "metric_calculation", "inventory_turnover_daily"])
SNAPSHOTS = dg.AssetKey([METRIC, "sourcing", "inventory_snapshots"])
PERSISTED = dg.AssetKey([METRIC, "persisted", "inventory_turnover_daily"])
DEFAULT_DELAY_S = 10  # pipeline-configs/retry-policies.yaml, policy "default"


@pytest.fixture
def defs(tmp_path, monkeypatch) -> dg.Definitions:
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")  # nothing listens: nothing here may need the catalog
    monkeypatch.delenv("METRICDAG_ENV", raising=False)
    project = copy_project(tmp_path, ["daily_net_sales", METRIC])
    return build_metric_definitions(project / "metrics" / METRIC, load_environment("local", project))


def events(result: dg.ExecuteInProcessResult, kind: str) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type_value == kind]


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    [failure] = events(result, "STEP_FAILURE")
    return failure.event_specific_data.error.to_string()


def run(defs: dg.Definitions, selection: list[dg.AssetKey]) -> tuple[dg.ExecuteInProcessResult, float]:
    job = defs.resolve_job_def(job_name(METRIC))
    started = time.monotonic()
    result = job.execute_in_process(partition_key=DAY, asset_selection=selection, raise_on_error=False)
    return result, time.monotonic() - started


def test_a_missing_upstream_partition_of_another_metric_fails_at_once_with_the_command(defs):
    # the metric's own sourced input exists; the other metric's reviewed output does not
    manager = defs.resources["io_manager"]
    manager.handle_output(
        dg.build_output_context(asset_key=SNAPSHOTS, partition_key=DAY, run_id="seed"),
        pd.DataFrame({"store_id": ["S001"], "product_id": ["P1"], "closing_units": [3]}),
    )
    policy = defs.resolve_asset_graph().get(TURNOVER).assets_def.op.retry_policy
    assert (policy.max_retries, policy.delay) == (2, DEFAULT_DELAY_S)

    result, seconds = run(defs, [TURNOVER])

    assert not result.success
    assert events(result, "STEP_UP_FOR_RETRY") == [] and events(result, "STEP_RESTARTED") == []
    assert len(events(result, "STEP_START")) == 1
    assert seconds < DEFAULT_DELAY_S
    message = failure_message(result)
    assert (
        f"daily_net_sales/review/product_sales_daily has no data for partition {DAY}; "
        f"run: metricdag run --metric daily_net_sales --date {DAY}"
    ) in message


def test_persisting_a_review_file_this_run_did_not_write_fails_at_once_with_the_command(defs):
    # a file of the partition exists, but another run wrote it: this run must not load it
    manager = defs.resources["io_manager"]
    review = dg.AssetKey([METRIC, "review", "inventory_turnover_daily"])
    manager.handle_output(
        dg.build_output_context(asset_key=review, partition_key=DAY, run_id="another-run"),
        pd.DataFrame({"business_date": [pd.Timestamp(DAY).date()], "store_id": ["S001"]}),
    )

    policy = defs.resolve_asset_graph().get(PERSISTED).assets_def.op.retry_policy
    assert (policy.max_retries, policy.delay) == (2, DEFAULT_DELAY_S)

    result, seconds = run(defs, [PERSISTED])

    assert not result.success
    assert events(result, "STEP_UP_FOR_RETRY") == [] and len(events(result, "STEP_START")) == 1
    assert seconds < DEFAULT_DELAY_S
    message = failure_message(result)
    assert f"{review.to_user_string()} has no data for partition {DAY} written by run {result.run_id}" in message
    assert f"run: metricdag run --metric {METRIC} --date {DAY}" in message
