"""Events over moto's SQS: the bucket notifications ``wiring.ensure`` configures through the S3
API send each new object under ``metrics/events/<type>/`` to the listening metric's queue, and
the SQS source reads S3's notification shape as the event it means."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

import pytest

from metricdag import aws
from metricdag.events import wiring
from metricdag.events.sources import source_for
from metricdag.settings import load_environment
from tests.conftest import PROJECT_ROOT


@pytest.fixture()
def env(moto_endpoint, monkeypatch):
    monkeypatch.setenv("METRICDAG_MOTO_PORT", str(urlsplit(moto_endpoint).port))
    monkeypatch.setenv("METRICDAG_BUCKET", f"events-{uuid.uuid4().hex[:8]}")  # a bucket per test
    return load_environment("aws-local", PROJECT_ROOT)


def bucket(env) -> str:
    return urlsplit(env.object_store.base_uri).netloc


def test_ensure_wires_bucket_queues_and_notifications_once(env):
    first = wiring.ensure(env)
    assert f"created bucket {bucket(env)}" in first and any("notifications" in c for c in first)
    assert wiring.ensure(env) == []  # idempotent: a second run changes nothing
    config = aws.client("s3", env.object_store.s3_endpoint_url).get_bucket_notification_configuration(Bucket=bucket(env))
    routes = {c["Filter"]["Key"]["FilterRules"][0]["Value"]: c["QueueArn"].rpartition(":")[2]
              for c in config["QueueConfigurations"]}
    assert routes["metrics/events/pos_transactions_arrived/"] == "metricdag-events-daily_net_sales"
    assert routes["metrics/events/dataset_published/"] == "metricdag-events-inventory_turnover"


def test_an_arriving_object_is_the_event_of_its_prefix(env):
    wiring.ensure(env)
    s3 = aws.client("s3", env.object_store.s3_endpoint_url)
    body = json.dumps({"date": "2024-06-03", "rows": 5}).encode()
    s3.put_object(Bucket=bucket(env), Key="metrics/events/pos_transactions_arrived/day 1.json", Body=body)
    s3.put_object(Bucket=bucket(env), Key="metrics/aws-local/not-an-event.parquet", Body=b"x")
    source = source_for(env, "daily_net_sales")

    events, _ = source.poll(None, 10)
    again, _ = source.poll(None, 10)

    [event] = events  # S3's test event from configuring the bucket, and the other object: no event
    assert event.type == "pos_transactions_arrived" and event.id.startswith("obj-")
    assert event.payload == {"date": "2024-06-03", "rows": 5, "size": len(body),
                             "uri": f"s3://{bucket(env)}/metrics/events/pos_transactions_arrived/day 1.json"}
    assert again == []
    sqs = aws.client("sqs", env.events.sqs_endpoint_url)
    dead = sqs.receive_message(QueueUrl=env.events.dead_letter, WaitTimeSeconds=0).get("Messages", [])
    assert dead == []


def test_an_unreadable_arrival_is_dead_lettered_with_its_reason(env):
    wiring.ensure(env)
    aws.client("s3", env.object_store.s3_endpoint_url).put_object(
        Bucket=bucket(env), Key="metrics/events/pos_transactions_arrived/broken.json", Body=b"{not json")
    events, _ = source_for(env, "daily_net_sales").poll(None, 10)
    assert events == []
    sqs = aws.client("sqs", env.events.sqs_endpoint_url)
    [dead] = sqs.receive_message(QueueUrl=env.events.dead_letter, MessageAttributeNames=["All"])["Messages"]
    assert "broken.json: not JSON" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"].endswith("broken.json")
