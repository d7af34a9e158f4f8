"""Event sources: inbox, SQS (moto's server) and object arrivals; malformed events are
dead-lettered and the cursor moves past them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import boto3
import pytest

from metricdag.events.models import new_event
from metricdag.events.sources import FolderDeadLetter, InboxSource, ObjectArrivalSource, SqsDeadLetter, SqsSource
from metricdag.io.objectstore import LocalObjectStore

REGION = "us-east-1"


def test_inbox_returns_events_in_order_and_the_cursor_yields_nothing_new(tmp_path):
    inbox = InboxSource(tmp_path / "inbox", FolderDeadLetter(tmp_path / "dead"))
    sent = [new_event("a", {"n": i}) for i in range(3)]
    for event in sent:
        inbox.send(event)

    first, cursor = inbox.poll(None, 2)
    rest, cursor = inbox.poll(cursor, 10)
    again, same = inbox.poll(cursor, 10)

    assert [e.id for e in first + rest] == [e.id for e in sent]
    assert (again, same) == ([], cursor)
    assert not list((tmp_path / "inbox").glob(".tmp-*"))  # written atomically


def test_a_malformed_inbox_file_is_dead_lettered_logged_and_skipped(tmp_path, caplog):
    inbox = InboxSource(tmp_path / "inbox", FolderDeadLetter(tmp_path / "dead"))
    good = new_event("a")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "00000000000000000001-bad.json").write_text("{not json")
    (tmp_path / "inbox" / "00000000000000000002-bad.json").write_text(json.dumps({"id": "x", "type": "a"}))
    inbox.send(good)

    with caplog.at_level(logging.WARNING):
        events, cursor = inbox.poll(None, 10)

    assert [e.id for e in events] == [good.id]
    assert cursor == f"{good.id}.json"
    dead = sorted(p.name for p in (tmp_path / "dead").iterdir())
    assert dead == [
        "00000000000000000001-bad.raw", "00000000000000000001-bad.reason.txt",
        "00000000000000000002-bad.raw", "00000000000000000002-bad.reason.txt",
    ]
    assert (tmp_path / "dead" / "00000000000000000001-bad.raw").read_text() == "{not json"
    assert "emitted_at" in (tmp_path / "dead" / "00000000000000000002-bad.reason.txt").read_text()
    assert "dead-letter" in caplog.text


@pytest.fixture(scope="session")
def sqs_endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture
def sqs(sqs_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("sqs", endpoint_url=sqs_endpoint, region_name=REGION)


def test_sqs_receives_deletes_and_dead_letters_to_a_queue(sqs, request):
    name = request.node.name[:60]
    queue = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    source = SqsSource(sqs, queue, SqsDeadLetter(sqs, dlq))
    good = new_event("a", {"date": "2024-06-03"})
    source.send(good)
    sqs.send_message(QueueUrl=queue, MessageBody="not an event")

    events, cursor = source.poll(None, 10)

    assert [e.id for e in events] == [good.id] and cursor == good.id
    assert source.poll(cursor, 10) == ([], cursor)  # received messages were deleted
    dead = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in dead] == ["not an event"]
    assert "not JSON" in dead[0]["MessageAttributes"]["reason"]["StringValue"]


def test_sqs_can_dead_letter_to_a_folder(sqs, tmp_path, request):
    queue = sqs.create_queue(QueueName=f"{request.node.name[:60]}-q")["QueueUrl"]
    source = SqsSource(sqs, queue, FolderDeadLetter(tmp_path / "dead"))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"type": "a"}))

    assert source.poll(None, 10)[0] == []
    assert len(list((tmp_path / "dead").glob("*.raw"))) == 1


def test_objects_under_a_prefix_become_events_of_their_folder_type(tmp_path):
    store = LocalObjectStore()
    prefix = "file://" + str(tmp_path / "arrivals")
    source = ObjectArrivalSource(store, prefix, FolderDeadLetter(tmp_path / "dead"))
    store.put_bytes(prefix + "/pos_transactions_arrived/2024-06-03T01.json", json.dumps({"date": "2024-06-03"}).encode())
    store.put_bytes(prefix + "/stray.csv", b"x")  # not under <event type>/
    store.put_bytes(prefix + "/inventory_snapshot_arrived/2024-06-03T02.parquet", b"PAR1")

    events, cursor = source.poll(None, 10)
    again, _ = source.poll(cursor, 10)
    store.put_bytes(prefix + "/pos_transactions_arrived/2024-06-04T01.json", b"[1, 2]")  # not a mapping
    later, _ = source.poll(cursor, 10)

    assert [(e.type, e.payload.get("date")) for e in events] == [  # in arrival order
        ("pos_transactions_arrived", "2024-06-03"), ("inventory_snapshot_arrived", None),
    ]
    assert events[1].payload["uri"].endswith(".parquet") and again == [] and later == []
    assert len(list((tmp_path / "dead").glob("*.raw"))) == 2


def test_end_cursors_point_after_what_a_log_like_source_holds(tmp_path):
    inbox = InboxSource(tmp_path / "inbox", FolderDeadLetter(tmp_path / "dead"))
    assert inbox.end_cursor() is None
    inbox.send(new_event("a"))
    assert inbox.poll(inbox.end_cursor(), 10) == ([], inbox.end_cursor())
    store = LocalObjectStore()
    objects = ObjectArrivalSource(store, "file://" + str(tmp_path / "arrivals"), FolderDeadLetter(tmp_path / "dead"))
    store.put_bytes(objects.prefix + "/a/1.json", b"{}")
    assert objects.poll(objects.end_cursor(), 10)[0] == []
