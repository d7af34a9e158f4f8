"""Each executor a metric can choose, through a real launched run (``dg.execute_job`` of a
reconstructable job on a DagsterInstance in a temp folder, as the daemon and the UI launch them):
a transient failure of one step is retried, a failing blocking review check stops downstream, a
run re-executed from failure finishes, and the run says which executor ran it."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.build import EXECUTOR_TAG
from metricdag.settings import load_environment
from metricdag_localstack.seed import sample_days
from tests.probe_metric import branch, make_probe, persisted_days

pytestmark = pytest.mark.stack  # every test here needs the local stack

PROBE_VAR = "METRICDAG_TEST_EXECUTOR_PROBE"  # the probe's metric folder, for the reconstructed job

# The real net_sales node, made to misbehave on demand by marker files beside it (files, so a
# retry in another step process sees what the first attempt did).
NODE = '''
import importlib.util
from pathlib import Path

import requests

_here = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("executor_probe_real_net_sales", _here / "net_sales.py")
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)


def run(inputs, context):
    day = context.partition_date.isoformat()
    flaky = _here / f"flaky-{day}"
    if flaky.exists():  # a transient failure, once
        flaky.unlink()
        raise requests.ConnectionError(f"simulated dropped connection on {day}")
    if (_here / f"fail-{day}").exists():
        raise ValueError(f"simulated permanent failure on {day}")
    out = _real.run(inputs, context)
    if (_here / f"zero-{day}").exists():  # below the blocking daily_minimum check
        frame = out["net_sales_daily"].copy()
        frame["net_sales_usd"] = 0.0
        out = {"net_sales_daily": frame}
    return out
'''

EXECUTORS = {
    "in_process": ("in_process", "in_process"),
    "forkserver": ("{type: multiprocess, max_concurrent: 2, start_method: forkserver}",
                   "multiprocess (forkserver, max_concurrent=2)"),
}


def probe_job() -> dg.JobDefinition:
    """Module-level so Dagster can reconstruct the job in the run's (and each step's) process."""
    folder = Path(os.environ[PROBE_VAR])
    env = load_environment("local", folder.parent.parent)
    return build_metric_definitions(folder, env).resolve_job_def(job_name(folder.name))


def launch(instance: dg.DagsterInstance, metric: str, day: str, **kwargs) -> dg.ExecutionResult:
    return dg.execute_job(
        dg.reconstructable(probe_job), instance=instance, asset_selection=branch(metric),
        tags={"dagster/partition": day}, raise_on_error=False, **kwargs,
    )


def step_events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType, step: str) -> list:
    return [e for e in instance.all_logs(run_id, of_type=kind) if e.step_key == step]


def failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        f"{e.step_key}: {e.dagster_event.event_specific_data.error.message.strip()}"
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ] + [e.message for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]


def materialized(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {
        e.dagster_event.asset_key.to_user_string()
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    }


@pytest.mark.parametrize("kind", list(EXECUTORS))
def test_a_launched_run_retries_blocks_and_reexecutes_with_the_metrics_executor(
    kind, seeded_env, tmp_path, monkeypatch
):
    executor_yaml, label = EXECUTORS[kind]
    metric, table = f"executor_probe_{kind}", f"METRICS.EXECUTOR_PROBE_{kind.upper()}"
    _, folder = make_probe(
        tmp_path, metric, table,
        edits=[("retry_policy: default ", f"executor: {executor_yaml}\nretry_policy: {{max_retries: 2}} ")],
        node=("probe", NODE),
    )
    monkeypatch.setenv(PROBE_VAR, str(folder))
    node_dir = folder / "metric_calculation" / "net_sales" / "src"
    node_step = f"{metric}__net_sales"
    reviewed, persisted = f"{metric}/review/net_sales_daily", f"{metric}/persisted/net_sales_daily"
    flaky_day, blocked_day, failed_day = (d.isoformat() for d in sample_days(seeded_env)[-3:])

    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        # a dropped connection in the node: the step is retried and the run finishes
        (node_dir / f"flaky-{flaky_day}").touch()
        result = launch(instance, metric, flaky_day)
        assert result.success
        assert len(step_events(instance, result.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY, node_step)) == 1
        assert {reviewed, persisted} <= materialized(instance, result.run_id)
        assert instance.get_run_by_id(result.run_id).tags[EXECUTOR_TAG] == label
        # the executor really is the one chosen: one process for every step, or one per step
        pids = {e.dagster_event.pid for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_START)}
        assert (len(pids) == 1) == (kind == "in_process"), pids

        # a blocking check fails: the review copy and the persist step never run
        (node_dir / f"zero-{blocked_day}").touch()
        result = launch(instance, metric, blocked_day)
        assert not result.success
        assert not {reviewed, persisted} & materialized(instance, result.run_id)
        evaluations = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
        assert [e.check_name for e in evaluations if not e.passed] == ["daily_minimum"]

        # a permanent failure, fixed, then re-executed from failure: only what failed runs again
        (node_dir / f"fail-{failed_day}").touch()
        failed = launch(instance, metric, failed_day)
        assert not failed.success
        assert len(step_events(instance, failed.run_id, dg.DagsterEventType.STEP_FAILURE, node_step)) == 1
        (node_dir / f"fail-{failed_day}").unlink()
        again = dg.execute_job(
            dg.reconstructable(probe_job), instance=instance, raise_on_error=False,
            reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
            tags={"dagster/partition": failed_day},  # execute_job does not copy the parent's tags (the UI does)
        )
        assert again.success, failures(instance, again.run_id)
        assert {reviewed, persisted} <= materialized(instance, again.run_id)
        assert not step_events(instance, again.run_id, dg.DagsterEventType.STEP_START, f"{metric}__clean_pos_transactions")
        assert instance.get_run_by_id(again.run_id).tags[EXECUTOR_TAG] == label

    assert {flaky_day, failed_day} <= persisted_days(seeded_env, table)
    assert blocked_day not in persisted_days(seeded_env, table)
