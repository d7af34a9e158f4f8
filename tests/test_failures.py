"""A failed step says why: the root cause of real Dagster step failures, after retries, from a
dg.Failure, from our own errors and from an IO manager, as the summary and the alerts show it."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.alerting.episodes import Failure, email_body, summary
from metricdag.audit.sensors import failed_nodes
from metricdag.failures import first_line, root_cause, step_failures
from metricdag.day_run import summarize
from metricdag.sourcing.errors import SourceError

MISSING = "m/sourcing/stores has no data for partition 2024-06-02; run: metricdag run --metric m --date 2024-06-02"


class MissingInput(dg.IOManager):
    def handle_output(self, context, obj) -> None:
        pass

    def load_input(self, context):
        raise FileNotFoundError(MISSING + "\nnothing under file:///somewhere")


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
def retried():
    try:
        raise KeyError("low-level detail")
    except KeyError as exc:
        raise RuntimeError("the warehouse answered garbage\nsecond line") from exc


@dg.asset
def described():
    raise dg.Failure(description="node 'net_sales': ValueError: no rows for store 7\nmore detail", allow_retries=False)


@dg.asset
def ours():
    raise SourceError("dataset 'fx_rates': no rows for 2024-06-02")


@dg.asset(io_manager_key="missing")
def upstream():
    return 1


@dg.asset(io_manager_key="missing", retry_policy=dg.RetryPolicy(max_retries=2))
def downstream(upstream):
    return upstream


@dg.asset(io_manager_key="missing")
def read_once(upstream):
    return upstream


@pytest.fixture(scope="module")
def failed_run() -> tuple[dg.DagsterInstance, str]:
    defs = dg.Definitions(assets=[retried, described, ours, upstream, downstream, read_once], resources={"missing": MissingInput()})
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return instance, result.run_id


def test_each_failed_step_gives_the_first_line_of_its_root_cause(failed_run):
    instance, run_id = failed_run

    causes = step_failures(instance.all_logs(run_id))

    assert causes == {
        "retried": "RuntimeError: the warehouse answered garbage",  # not "Exceeded max_retries of 1"
        "described": "node 'net_sales': ValueError: no rows for store 7",  # the description, no class path
        "ours": "dataset 'fx_rates': no rows for 2024-06-02",  # our errors are messages for the reader
        "downstream": f"FileNotFoundError: {MISSING}",  # the IO manager's error after the retries
        "read_once": f"FileNotFoundError: {MISSING}",  # ... and without retries (not "Error occurred while loading")
    }


def test_the_summary_table_says_failed_and_why(failed_run):
    instance, run_id = failed_run

    rows = {r.asset: r.status for r in summarize(instance, run_id, "m", "2024-06-02")}

    assert rows["downstream"] == f"failed: FileNotFoundError: {MISSING}"
    assert rows["retried"] == "failed: RuntimeError: the warehouse answered garbage"
    assert rows["upstream"] == "ok"


def test_the_alert_subject_body_and_pagerduty_summary_carry_the_root_cause(failed_run):
    instance, run_id = failed_run

    reasons = dict(failed_nodes(instance.all_logs(run_id)))
    failure = Failure("local", "m", "2024-06-02", "downstream", run_id, reasons["downstream"])

    assert reasons["downstream"].splitlines()[0] == f"FileNotFoundError: {MISSING}"
    assert summary(failure) == f"[local] m 2024-06-02 failed at downstream: FileNotFoundError: {MISSING}"
    assert "Exceeded max_retries" not in email_body(failure)
    assert f"cause: FileNotFoundError: {MISSING}" in email_body(failure)


def test_a_first_line_ending_in_a_colon_keeps_what_it_introduces():
    text = "1 blocking asset check failed with ERROR severity:\nm/metric_calculation/x: record_count\n"
    assert first_line(text) == "1 blocking asset check failed with ERROR severity: m/metric_calculation/x: record_count"
    assert root_cause(None) == "step failed"
