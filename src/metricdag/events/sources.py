"""Event sources: ``poll(cursor, limit) -> (events, new_cursor)`` and ``dead_letter(raw, reason)``.

- :class:`InboxSource`: a folder of ``<sortable id>.json`` files (the local stack). Files stay
  where they are (every metric's sensor reads the same inbox with its own cursor).
- :class:`SqsSource`: an SQS queue (boto3 receive + delete). A message is either an event
  envelope or an S3 bucket notification (``Records[].s3.object.key``): a new object under the
  arrivals prefix ``<prefix>/<event type>/`` is that event, as for :class:`ObjectArrivalSource`.
- :class:`ObjectArrivalSource`: new objects under ``<prefix>/<event type>/``, cursor = last key.

A malformed event is logged and dead-lettered; the cursor still moves past it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote_plus

from metricdag.errors import ConfigError
from metricdag.events.models import Event, MalformedEvent, new_event_id, parse_event
from metricdag.io.files import write_atomically
from metricdag.settings import Environment, EventsSettings

log = logging.getLogger(__name__)


class EventSource(Protocol):
    def poll(self, cursor: str | None, limit: int) -> tuple[list[Event], str | None]: ...
    def end_cursor(self) -> str | None: ...
    def dead_letter(self, raw: bytes, reason: str) -> None: ...
    def send(self, event: Event) -> None: ...


# ------------------------------------------------------------------------- dead letters


class FolderDeadLetter:
    """Each dead letter is ``<id>.raw`` (the bytes as received) plus ``<id>.reason.txt``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, raw: bytes, reason: str, name: str | None = None) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = name or new_event_id()
        target = self.folder / f"{stem}.raw"
        write_atomically(target, raw)
        write_atomically(self.folder / f"{stem}.reason.txt", reason.encode())
        return target


class SqsDeadLetter:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client, self.queue_url = client, queue_url

    def put(self, raw: bytes, reason: str, name: str | None = None) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=raw.decode("utf-8", errors="replace") or "(empty)",
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000] or "malformed"}},
        )


def _report(what: str, reason: str) -> None:
    log.warning("malformed event %s moved to the dead-letter place: %s", what, reason)


# ------------------------------------------------------------------------------ inbox


class InboxSource:
    def __init__(self, folder: Path, dead: FolderDeadLetter | SqsDeadLetter) -> None:
        self.folder, self.dead = folder, dead

    def send(self, event: Event) -> Path:
        target = self.folder / f"{event.id}.json"
        write_atomically(target, event.model_dump_json().encode())
        return target

    def _names(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("*.json") if not p.name.startswith("."))

    def end_cursor(self) -> str | None:
        """The position after everything already in the inbox (None: empty)."""
        names = self._names()
        return names[-1] if names else None

    def poll(self, cursor: str | None, limit: int) -> tuple[list[Event], str | None]:
        names = self._names()
        pending = [n for n in names if cursor is None or n > cursor][:limit]
        events: list[Event] = []
        for name in pending:
            path = self.folder / name
            try:
                raw = path.read_bytes()
            except FileNotFoundError:  # dead-lettered by another sensor meanwhile
                continue
            try:
                events.append(parse_event(raw))
            except MalformedEvent as exc:
                self.dead_letter(raw, f"{path}: {exc}", name=Path(name).stem)
                path.unlink(missing_ok=True)
            cursor = name
        return events, cursor

    def dead_letter(self, raw: bytes, reason: str, name: str | None = None) -> None:
        _report(name or "(inbox)", reason)
        self.dead.put(raw, reason, name)


# -------------------------------------------------------------------------------- SQS


class SqsSource:
    """``arrivals``: the object store and prefix whose S3 notifications come to this queue (the
    bucket's notification configuration sends them; :mod:`metricdag.events.wiring`)."""

    def __init__(
        self, client: Any, queue_url: str, dead: FolderDeadLetter | SqsDeadLetter,
        arrivals: tuple[Any, str] | None = None,
    ) -> None:
        self.client, self.queue_url, self.dead = client, queue_url, dead
        self.arrivals = arrivals

    def send(self, event: Event) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=event.model_dump_json())

    def end_cursor(self) -> str | None:
        return None  # a queue holds only what is still to be handled: start with its backlog

    def poll(self, cursor: str | None, limit: int) -> tuple[list[Event], str | None]:
        events: list[Event] = []
        while len(events) < limit:
            response = self.client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, limit - len(events)), WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                raw = message.get("Body", "").encode()
                try:
                    received = self._events(raw)
                except MalformedEvent as exc:
                    self.dead_letter(raw, f"SQS message {message.get('MessageId')}: {exc}")
                else:
                    events += received
                    cursor = received[-1].id if received else cursor
                self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return events, cursor

    def _events(self, raw: bytes) -> list[Event]:
        """The events one message carries: an envelope is one; an S3 notification one per
        created object under the arrivals prefix (S3's test event and other objects: none)."""
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not ("Records" in body or body.get("Event") == "s3:TestEvent"):
            return [parse_event(raw)]
        if body.get("Event") == "s3:TestEvent":
            log.info("S3 test event for bucket %s: the bucket's notifications reach %s", body.get("Bucket"), self.queue_url)
            return []
        return [e for record in _records(body) if (e := self._arrival(record)) is not None]

    def _arrival(self, record: dict) -> Event | None:
        if self.arrivals is None:
            raise MalformedEvent("an S3 notification, but this queue has no arrivals prefix (events.prefix)")
        store, prefix = self.arrivals
        try:
            s3 = record["s3"]
            uri = f"s3://{s3['bucket']['name']}/{unquote_plus(s3['object']['key'])}"
            size = int(s3["object"].get("size") or 0)
            when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEvent(f"an S3 notification record without bucket, key or eventTime: {exc!r}") from None
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            return None
        if not uri.startswith(prefix.rstrip("/") + "/"):
            log.info("S3 notification for %s: not under the arrivals prefix %s, ignored", uri, prefix)
            return None
        version = s3["object"].get("sequencer") or s3["object"].get("eTag") or ""
        return object_event(store, uri, size, when, uri[len(prefix.rstrip("/")) + 1 :], f"{uri}@{when.isoformat()}@{version}")

    def dead_letter(self, raw: bytes, reason: str, name: str | None = None) -> None:
        _report(name or "(sqs)", reason)
        self.dead.put(raw, reason, name)


def _records(body: dict) -> list[dict]:
    records = body.get("Records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise MalformedEvent("an S3 notification whose Records is not a list of records")
    return [r for r in records if r.get("eventSource") == "aws:s3"]


# ------------------------------------------------------------------- object arrivals


class ObjectArrivalSource:
    """``<prefix>/<event type>/<name>``: a new object is an event of that type with payload
    ``{uri, size}`` plus, for a ``.json`` object holding a mapping, its keys. The cursor is the
    last (modification time, key) seen; an object rewritten later arrives again."""

    def __init__(self, store: Any, prefix: str, dead: FolderDeadLetter | SqsDeadLetter) -> None:
        self.store, self.prefix, self.dead = store, prefix.rstrip("/"), dead

    def send(self, event: Event) -> None:
        self.store.put_bytes(f"{self.prefix}/{event.type}/{event.id}.json", json.dumps(event.payload).encode())

    def end_cursor(self) -> str | None:
        positions = [_position(o.modified, o.uri[len(self.prefix) + 1 :]) for o in self.store.list(self.prefix + "/")]
        return max(positions) if positions else None

    def poll(self, cursor: str | None, limit: int) -> tuple[list[Event], str | None]:
        objects = sorted(
            ((_position(obj.modified, obj.uri[len(self.prefix) + 1 :]), obj) for obj in self.store.list(self.prefix + "/")),
            key=lambda pair: pair[0],
        )
        events: list[Event] = []
        for position, obj in objects:
            if cursor is not None and position <= cursor:
                continue
            if len(events) >= limit:
                break
            key = obj.uri[len(self.prefix) + 1 :]
            try:
                events.append(self._event(obj, key))
            except MalformedEvent as exc:
                self.dead_letter(_safe_get(self.store, obj.uri), f"{obj.uri}: {exc}")
            cursor = position
        return events, cursor

    def _event(self, obj: Any, key: str) -> Event:
        return object_event(self.store, obj.uri, obj.size, obj.modified, key, f"{obj.uri}@{obj.modified.isoformat()}")

    def dead_letter(self, raw: bytes, reason: str, name: str | None = None) -> None:
        _report(name or "(object)", reason)
        self.dead.put(raw, reason, name)


def object_event(store: Any, uri: str, size: int, modified: datetime | None, key: str, identity: str) -> Event:
    """The event a new object ``<prefix>/<key>`` means, ``key`` = ``<event type>/<name>``: payload
    ``{uri, size}`` plus, for a ``.json`` object holding a mapping, its keys; the id is a digest
    of ``identity`` (the object and its version), so a redelivery is the same event."""
    event_type, sep, name = key.partition("/")
    if not sep or not name:
        raise MalformedEvent(f"{uri}: object is not under <prefix>/<event type>/")
    payload: dict[str, Any] = {"uri": uri, "size": size}
    if name.endswith(".json"):
        try:
            body = json.loads(store.get_bytes(uri))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MalformedEvent(f"{uri}: not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise MalformedEvent(f"{uri}: a .json event object must hold a mapping")
        payload = {**body, **payload}
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    try:
        return Event(id=f"obj-{digest}", type=event_type, payload=payload,
                     emitted_at=modified or datetime.now(timezone.utc))
    except ValueError as exc:
        raise MalformedEvent(str(exc).splitlines()[0]) from None


def _position(modified: datetime, key: str) -> str:
    """Cursor order: arrival time (UTC, microseconds, fixed width), then key."""
    stamp = modified.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%f")
    return f"{stamp}|{key}"


def _safe_get(store: Any, uri: str) -> bytes:
    try:
        return store.get_bytes(uri)
    except Exception as exc:  # the reason file still says which object it was
        return f"(unreadable: {exc})".encode()


# ---------------------------------------------------------------------------- factory


def _sqs_client(settings: EventsSettings) -> Any:
    from metricdag import aws

    return aws.client("sqs", settings.sqs_endpoint_url, settings.region)


def arrivals_prefix(env: Environment) -> str:
    """Where new objects are events (``events.prefix``; default ``<object store>/events``)."""
    settings = env.events
    prefix = (settings.prefix if settings else None) or env.object_store_uri.rstrip("/") + "/events"
    if prefix.startswith("file://") and not prefix.startswith("file:///"):
        prefix = "file://" + str(env.path(prefix[len("file://") :]))
    return prefix.rstrip("/")


def source_for(env: Environment, metric: str | None = None) -> EventSource:
    """The environment's event source. ``{metric}`` in ``queue_url`` gives each metric location
    its own queue (SQS consumers compete; fan out with SNS when several metrics listen)."""
    settings = env.events
    if settings is None:
        raise ConfigError(f"environment {env.name} has no events: section")
    client = _sqs_client(settings) if settings.source == "sqs" or settings.dead_letter.startswith("http") else None
    dead: FolderDeadLetter | SqsDeadLetter = (
        SqsDeadLetter(client, settings.dead_letter) if settings.dead_letter.startswith("http")
        else FolderDeadLetter(env.path(settings.dead_letter))
    )
    if settings.source == "inbox":
        return InboxSource(env.path(settings.inbox_dir or "events/inbox"), dead)
    if settings.source == "sqs":
        if not settings.queue_url:
            raise ConfigError(f"environment {env.name}: events.source is sqs but events.queue_url is not set")
    from metricdag.io.objectstore import env_store

    prefix = arrivals_prefix(env)
    store = env_store(env, prefix)
    if settings.source == "sqs":
        arrivals = (store, prefix) if prefix.startswith("s3://") else None
        return SqsSource(client, queue_url_for(settings.queue_url, metric), dead, arrivals)
    return ObjectArrivalSource(store, prefix, dead)


def queue_url_for(template: str, metric: str | None) -> str:
    """``events.queue_url`` for one metric's location (``{metric}``: each its own queue)."""
    return template.replace("{metric}", metric or "")


def emit(env: Environment, event_type: str, payload: dict[str, Any] | None = None) -> Event:
    """Put a new event on the environment's source (``metricdag event send``, the persister)."""
    from metricdag.events.models import new_event

    event = new_event(event_type, payload)
    settings = env.events
    if settings is not None and settings.source == "sqs" and "{metric}" in (settings.queue_url or ""):
        from metricdag.events.models import load_events_config, matching_targets

        config = load_events_config(env.project_root)
        metrics = sorted({t.metric for t in matching_targets(event, config.events)})
        for metric in metrics:  # one queue per listening metric: fan out here
            source_for(env, metric).send(event)
        return event
    source_for(env).send(event)
    return event
