"""``metricdag event send <type> [--payload JSON]``: put an event on the environment's source."""

from __future__ import annotations

import argparse
import json
import re
import sys

from metricdag.events.models import EVENT_TYPE_PATTERN
from metricdag.events.sources import emit
from metricdag.settings import current_environment


def cmd_send(args: argparse.Namespace) -> int:
    if not re.match(EVENT_TYPE_PATTERN, args.type):
        print(f"event type {args.type!r} must match {EVENT_TYPE_PATTERN}", file=sys.stderr)
        return 2
    try:
        payload = json.loads(args.payload) if args.payload else {}
    except json.JSONDecodeError as exc:
        print(f"--payload is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(payload, dict):
        print("--payload must be a JSON object", file=sys.stderr)
        return 2
    env = current_environment()
    event = emit(env, args.type, payload)
    print(f"sent {event.type} {event.id} to the {env.events.source if env.events else '?'} source of {env.name}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("event", help="events that start runs (pipeline-configs/events.yaml)")
    sub = p.add_subparsers(dest="event_command", required=True)
    s = sub.add_parser("send", help="put an event on this environment's event source")
    s.add_argument("type")
    s.add_argument("--payload", help='JSON object, e.g. {"date": "2024-06-03"}')
    s.set_defaults(fn=cmd_send)
