"""Event sources: ``poll(cursor, limit) -> (events, new_cursor)`` and ``dead_letter(raw, reason)``.

- :class:`InboxSource`: a folder of ``<sortable id>.json`` files (the local stack). Files stay
  where they are (every metric's sensor reads the same inbox with its own cursor).
- :class:`SqsSource`: an SQS queue (boto3 receive + delete).
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
    def __init__(self, client: Any, queue_url: str, dead: FolderDeadLetter | SqsDeadLetter) -> None:
        self.client, self.queue_url, self.dead = client, queue_url, dead

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
                    event = parse_event(raw)
                except MalformedEvent as exc:
                    self.dead_letter(raw, f"SQS message {message.get('MessageId')}: {exc}")
                else:
                    events.append(event)
                    cursor = event.id
                self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return events, cursor

    def dead_letter(self, raw: bytes, reason: str, name: str | None = None) -> None:
        _report(name or "(sqs)", reason)
        self.dead.put(raw, reason, name)


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
        event_type, sep, name = key.partition("/")
        if not sep or not name:
            raise MalformedEvent("object is not under <prefix>/<event type>/")
        payload: dict[str, Any] = {"uri": obj.uri, "size": obj.size}
        if name.endswith(".json"):
            try:
                body = json.loads(self.store.get_bytes(obj.uri))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise MalformedEvent(f"not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise MalformedEvent("a .json event object must hold a mapping")
            payload = {**body, **payload}
        digest = hashlib.sha256(f"{obj.uri}@{obj.modified.isoformat()}".encode()).hexdigest()[:24]
        try:
            return Event(id=f"obj-{digest}", type=event_type, payload=payload,
                         emitted_at=obj.modified or datetime.now(timezone.utc))
        except ValueError as exc:
            raise MalformedEvent(str(exc).splitlines()[0]) from None

    def dead_letter(self, raw: bytes, reason: str, name: str | None = None) -> None:
        _report(name or "(object)", reason)
        self.dead.put(raw, reason, name)


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
    import boto3

    return boto3.client("sqs", endpoint_url=settings.sqs_endpoint_url, region_name=settings.region)


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
        return SqsSource(client, settings.queue_url.replace("{metric}", metric or ""), dead)
    from metricdag.io.objectstore import store_for

    prefix = settings.prefix or env.object_store_uri.rstrip("/") + "/events"
    if prefix.startswith("file://") and not prefix.startswith("file:///"):
        prefix = "file://" + str(env.path(prefix[len("file://") :]))
    return ObjectArrivalSource(store_for(prefix, env.object_store.s3_endpoint_url, env.object_store.s3_region), prefix, dead)


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
