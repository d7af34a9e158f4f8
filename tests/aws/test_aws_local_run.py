"""aws-local end to end: every metric computed over moto's S3 and SQS, each partition loaded by
the packaged persister Lambda through boto3's real client and the loopback Invoke API; the rows
equal what the ``local`` environment loads. Events: an object arriving in S3 starts the mapped run
through the bucket's notification to SQS, and ``dataset_published`` reaches the metric that
listens to it. A transient failure the function reports is retried by the persist step."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import dagster as dg
import pytest

from metricdag import aws
from metricdag.events.sensors import EVENT_TYPE_TAG, event_sensor_name
from metricdag.factory import build_metric_definitions
from metricdag.resources import resources_for
from metricdag.day_run import materialize_metric
from metricdag.settings import Environment, load_environment
from metricdag.spec.loader import load_metric
from metricdag.warehouse import run_query
from metricdag_localstack import stack
from metricdag_localstack.processes import free_port, start_process, stop_process_group, wait_for_port
from metricdag_localstack.seed import seed
from tests.aws.conftest import AwsLocalStack
from tests.conftest import PROJECT_ROOT, copy_project

pytestmark = pytest.mark.stack

DAY = "2024-06-03"
METRICS = ("daily_net_sales", "inventory_turnover")  # inventory_turnover reads daily_net_sales' review


def persisted_rows(env: Environment, metric: str) -> dict[str, list[tuple]]:
    """Every persisted table of ``metric`` for DAY: its rows without the load metadata columns."""
    out = {}
    for target in load_metric(env.project_root / "metrics" / metric, env.project_root).spec.persist:
        table = ".".join(f'"{p}"' for p in (env.snowflake.database, *target.table.split(".")))
        columns, rows = run_query(env.snowflake, f"SELECT * FROM {table} WHERE \"{target.partition_column.upper()}\" = '{DAY}'")
        keep = [i for i, c in enumerate(columns) if not c.startswith("_")]
        out[target.table] = sorted(tuple(row[i] for i in keep) for row in rows)
        out[target.table + " run ids"] = sorted({row[columns.index("_RUN_ID")] for row in rows})
    return out


def run_every_metric(env: Environment) -> dict[str, list[tuple]]:
    seed(env, days=1)
    rows: dict[str, list[tuple]] = {}
    with dg.instance_for_test() as instance:
        for metric in METRICS:
            ok, summary = materialize_metric(PROJECT_ROOT / "metrics" / metric, env, DAY, instance, verbose=False)
            assert ok, [(r.asset, r.status) for r in summary if r.status not in ("ok", "passed")]
            rows.update(persisted_rows(env, metric))
    return rows


@pytest.fixture(scope="module")
def loaded(aws_local_stack: AwsLocalStack) -> tuple[dict, dict]:
    """Every metric run in ``local``, then in ``aws-local``, into the same Snowflake tables."""
    return run_every_metric(aws_local_stack.local), run_every_metric(aws_local_stack.aws)


def test_aws_local_loads_the_same_rows_as_local(loaded, aws_local_stack):
    local, aws_rows = loaded
    tables = sorted(k for k in local if not k.endswith("run ids"))
    assert tables == ["METRICS.BASKET_STATS_DAILY", "METRICS.INVENTORY_TURNOVER_DAILY", "METRICS.NET_SALES_DAILY"]
    for table in tables:
        assert aws_rows[table] and aws_rows[table] == local[table], table
        assert aws_rows[table + " run ids"] != local[table + " run ids"], f"{table} was not reloaded by aws-local"
    env = aws_local_stack.aws
    s3 = aws.client("s3", env.object_store.s3_endpoint_url)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="metricdag-aws-local", Prefix="metrics/aws-local/")["Contents"]]
    assert any(k.startswith("metrics/aws-local/daily_net_sales/review/net_sales_daily/2024/06/03/") for k in keys)
    unpacked = list((env.path(env.localstack.state_dir) / "lambda" / "metricdag-persister").iterdir())
    assert [p.name for p in unpacked if (p / "lambda_function.py").is_file()], "the function ran from its zip"


def evaluate_event_sensor(env: Environment, metric: str, instance: dg.DagsterInstance) -> dg.SensorResult:
    defs = build_metric_definitions(PROJECT_ROOT / "metrics" / metric, env)
    resources = resources_for(env)
    context = dg.build_sensor_context(
        instance=instance, definitions=defs,
        resources={"catalog": resources["catalog"], "object_store": resources["object_store"]},
    )
    return defs.resolve_sensor_def(event_sensor_name(metric))(context)


def test_an_object_arriving_in_s3_and_dataset_published_start_runs_over_sqs(loaded, aws_local_stack):
    env = aws_local_stack.aws
    s3 = aws.client("s3", env.object_store.s3_endpoint_url)
    s3.put_object(  # the POS extract's producer announces the day, as it would in AWS
        Bucket="metricdag-aws-local", Key=f"metrics/events/pos_transactions_arrived/{DAY}.json",
        Body=json.dumps({"date": DAY}).encode(),
    )
    with dg.instance_for_test() as instance:
        arrived = evaluate_event_sensor(env, "daily_net_sales", instance)
        published = evaluate_event_sensor(env, "inventory_turnover", instance)

    [request] = arrived.run_requests
    assert request.partition_key == DAY and request.tags[EVENT_TYPE_TAG] == "pos_transactions_arrived"
    assert {k.path[1] for k in request.asset_selection} >= {"sourcing", "persisted"}
    # the aws-local run's persister Lambda published net_sales_daily for the day
    assert [(r.partition_key, r.tags[EVENT_TYPE_TAG]) for r in published.run_requests] == [(DAY, "dataset_published")]
    sqs = aws.client("sqs", env.events.sqs_endpoint_url)
    dead = sqs.get_queue_attributes(QueueUrl=env.events.dead_letter, AttributeNames=["ApproximateNumberOfMessages"])
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "0"


FLAKY = '''"""The persister, failing once per dataset with a transient error, as a busy partition would."""
import os
from pathlib import Path

from metricdag.persistence.handler import handler as persist
from metricdag.persistence.request import PartitionBusyError


def handler(event, context):
    mark = Path(os.environ["FLAKY_DIR"]) / (event["dataset"] + ".failed")
    if not mark.exists():
        mark.write_text("once")
        raise PartitionBusyError("another load of the partition is in progress (injected once)")
    return persist(event, context)
'''


def test_a_transient_function_error_is_retried_by_the_persist_step(loaded, aws_local_stack, tmp_path, monkeypatch):
    env = aws_local_stack.aws
    code = tmp_path / "flaky.zip"
    code.write_bytes(stack.lambda_zip_path(env).read_bytes())
    with zipfile.ZipFile(code, "a") as zf:
        zf.writestr("flaky_function.py", FLAKY)
    [plan] = [p for p in stack.aws_plans(env) if p.name == "lambda"]
    port = free_port()
    argv = [a if a not in (str(stack.lambda_zip_path(env)), "lambda_function.handler", str(plan.port)) else
            {str(stack.lambda_zip_path(env)): str(code), "lambda_function.handler": "flaky_function.handler",
             str(plan.port): str(port)}[a] for a in plan.argv]
    proc = start_process("flaky-lambda", [*argv, "--set", f"FLAKY_DIR={tmp_path}"], tmp_path / "lambda.log")
    try:
        wait_for_port("127.0.0.1", port, 60, proc, tmp_path / "lambda.log", name="flaky lambda")
        monkeypatch.setenv("METRICDAG_LAMBDA_PORT", str(port))
        project = copy_project(tmp_path / "project", list(METRICS))
        metric = project / "metrics" / "inventory_turnover" / "metric.yaml"
        metric.write_text(metric.read_text().replace(
            "retry_policy: default", "retry_policy: {max_retries: 2, delay_s: 0, backoff: none, jitter: none}"))
        flaky_env = load_environment("aws-local", project)
        with dg.instance_for_test() as instance:
            ok, summary = materialize_metric(project / "metrics" / "inventory_turnover", flaky_env, DAY, instance, verbose=False)
            retried = [e for e in instance.all_logs(instance.get_runs()[0].run_id)
                       if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"]
    finally:
        stop_process_group(proc.pid)
    assert ok, [(r.asset, r.status) for r in summary if r.status not in ("ok", "passed")]
    [retry] = retried  # the one persist step, once; its second attempt loaded the partition
    assert retry.step_key == "inventory_turnover__persisted__inventory_turnover_daily"
    assert "PartitionBusyError" in retry.dagster_event.event_specific_data.error.to_string()
    assert [p.name for p in tmp_path.glob("*.failed")] == ["inventory_turnover_daily.failed"]
