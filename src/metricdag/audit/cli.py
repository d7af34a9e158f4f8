"""``metricdag audit [--metric M] [--date D]``: print the audit records and the alert episodes."""

from __future__ import annotations

import argparse

from metricdag.alerting.episodes import span
from metricdag.audit.store import audit_store_for
from metricdag.settings import current_environment


def cmd_audit(args: argparse.Namespace) -> int:
    env = current_environment()
    store = audit_store_for(env)
    if store is None:
        print(f"environment {env.name} has no audit store (audit: in its environment file)")
        return 1
    rows = store.query(metric=args.metric, date=args.date)
    header = ("recorded_at", "kind", "metric", "partition", "status", "run_id", "detail")
    table = [header] + [
        (r.recorded_at.isoformat(timespec="seconds"), r.kind, r.metric, r.partition, r.status, r.run_id, r.detail)
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)) + "  " + str(row[-1]))
    print(f"({len(rows)} record{'s' if len(rows) != 1 else ''})")
    episodes = store.episodes(metric=args.metric, date=args.date)
    if episodes:
        print("\nalert episodes:")
    for e in episodes:
        print(f"{e.opened_at.isoformat(timespec='seconds')}  {e.state}  {e.dedup_key}  run {e.run_id or '?'}")
        if len(e.partitions) > 1:
            print(f"    partitions: {span(e.partitions)}")
        print(f"    delivered: {', '.join(e.delivered) or 'nothing'}")
        if e.undelivered:
            print(f"    not delivered: {'; '.join(e.undelivered)}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("audit", help="print run and load audit records, and alert episodes with what was delivered")
    p.add_argument("--metric")
    p.add_argument("--date", help="partition date YYYY-MM-DD")
    p.set_defaults(fn=cmd_audit)
