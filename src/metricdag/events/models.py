"""The event envelope and ``pipeline-configs/events.yaml``; pure mapping functions."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Collection, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from metricdag.errors import MetricdagError, Problem, describe_errors
from metricdag.schema import NAME_PATTERN, StrictModel

DATASET_PUBLISHED = "dataset_published"
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class MalformedEvent(MetricdagError):
    """Raw event data that is not a valid event; it goes to the dead-letter place."""


class Event(StrictModel):
    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    payload: dict[str, Any] = Field(default_factory=dict)
    emitted_at: datetime


def new_event_id() -> str:
    """Sortable by time (ns since epoch, zero padded) and unique (random suffix)."""
    return f"{time.time_ns():020d}-{secrets.token_hex(4)}"


def new_event(event_type: str, payload: dict[str, Any] | None = None) -> Event:
    return Event(id=new_event_id(), type=event_type, payload=payload or {}, emitted_at=datetime.now(timezone.utc))


def parse_event(raw: bytes | str) -> Event:
    try:
        return Event.model_validate(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"not JSON: {exc}") from None
    except ValidationError as exc:
        raise MalformedEvent(describe_errors(exc.errors(), "event")) from None


class Target(StrictModel):
    """What one event type starts in one metric: a node (or sourced dataset) and, optionally,
    everything downstream of it in that metric."""


    metric: str = Field(pattern=NAME_PATTERN, description="a metric: metrics/<metric>/metric.yaml")
    select: str = Field(pattern=NAME_PATTERN, description="a node name, or a dataset sourced by the metric")
    downstream: bool = True
    dataset: str | None = Field(
        default=None, description="only events whose payload.dataset is this (for dataset_published)"
    )


class EventsConfig(StrictModel):
    events: dict[Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)], list[Target]] = Field(default_factory=dict)

    def targets_for(self, metric: str) -> dict[str, list[Target]]:
        """Event type -> the targets of ``metric`` (types that start nothing in it are left out)."""
        out: dict[str, list[Target]] = {}
        for event_type, targets in self.events.items():
            mine = [t for t in targets if t.metric == metric]
            if mine:
                out[event_type] = mine
        return out


EVENTS_FILE = Path("pipeline-configs") / "events.yaml"


def load_events_config(project_root: Path) -> EventsConfig:
    from metricdag.yamlio import load_model

    path = project_root / EVENTS_FILE
    return load_model(EventsConfig, path) if path.is_file() else EventsConfig()


def target_problems(
    config: EventsConfig,
    tree: Any,
    path: Path | str,
    selectable: Mapping[str, Collection[str] | None],
    persisted: Collection[str] | None = None,
) -> list[Problem]:
    """Targets naming a metric that does not exist, or a ``select:`` that is neither a node nor a
    dataset the metric sources itself, each at its line. ``selectable``: every metric -> its node
    names and own sourced datasets (None when the metric does not load: its own problems say why).
    ``persisted``: the datasets some metric persists, the only ones a ``dataset_published`` event
    names (its ``dataset:`` filter must be one of them)."""
    from metricdag.yamlio import did_you_mean, line_of, unknown_name

    problems = []
    for event_type, targets in config.events.items():
        for k, target in enumerate(targets):
            if (
                event_type == DATASET_PUBLISHED
                and persisted is not None
                and target.dataset is not None
                and target.dataset not in persisted
            ):
                problems.append(
                    Problem(
                        str(path),
                        line_of(tree, ("events", event_type, k, "dataset")),
                        f"event {event_type!r}: no metric persists dataset {target.dataset!r}, so no such event "
                        f"is published (persisted: {', '.join(sorted(persisted)) or 'none'})"
                        + did_you_mean(target.dataset, persisted),
                    )
                )
            if target.metric not in selectable:
                loc: tuple = ("events", event_type, k, "metric")
                message = f"event {event_type!r}: " + unknown_name("metric", target.metric, selectable, "metrics")
            else:
                names = selectable[target.metric]
                if names is None or target.select in names:
                    continue
                loc = ("events", event_type, k, "select")
                message = (
                    f"event {event_type!r}: metric {target.metric!r} has no node or sourced dataset {target.select!r} "
                    f"(it has: {', '.join(sorted(names))})" + did_you_mean(target.select, names)
                )
            problems.append(Problem(str(path), line_of(tree, loc), message))
    return problems


def matching_targets(event: Event, targets: dict[str, list[Target]]) -> list[Target]:
    """The targets an event starts (a ``dataset`` filter must equal ``payload.dataset``)."""
    return [t for t in targets.get(event.type, []) if t.dataset is None or t.dataset == event.payload.get("dataset")]


def partition_of(event: Event, today: date) -> str:
    """``payload.date`` (or ``payload.partition``), default yesterday."""
    value = event.payload.get("date") or event.payload.get("partition")
    if value is None:
        return date.fromordinal(today.toordinal() - 1).isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise MalformedEvent(f"event {event.id}: payload date {value!r} is not YYYY-MM-DD") from None
