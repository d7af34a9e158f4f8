"""``metricdag diff``: the working tree's definition over a range, against the published rows."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(subparsers) -> None:
    d = subparsers.add_parser(
        "diff",
        help="run the working tree's definition of a metric over a range (scratch, never published) and compare "
        "it with the published rows; exits 1 when the change differs from the metric's change: declaration",
    )
    d.add_argument("metrics", nargs="*", metavar="METRIC", help="metric name(s) (a folder under metrics/)")
    d.add_argument("--from", dest="start", type=_day, help="first partition (default: --to minus --days - 1)")
    d.add_argument("--to", dest="end", type=_day,
                   help="last partition (default: the local sample date, or yesterday UTC elsewhere)")
    d.add_argument("--days", type=int, default=3, help="partitions when --from is not given (default 3)")
    d.add_argument("--changed-since", metavar="REF",
                   help="diff every metric whose version differs from the one at this git commit (e.g. the MR's base)")
    d.add_argument("--list", action="store_true", help="with --changed-since: only print the changed metrics' names")
    d.add_argument("--publish-base", action="store_true",
                   help="local stack only, with --changed-since: first compute and persist the base commit's "
                   "definition for the range (what a merge request's pipeline compares with)")
    d.add_argument("--reports", help="reports folder (default: reports/diff)")
    d.set_defaults(fn=cmd_diff)


def _range(args: argparse.Namespace, env) -> tuple[date, date]:
    end = args.end or (
        env.localstack.sample.end_date if env.localstack else datetime.now(timezone.utc).date() - timedelta(days=1)
    )
    start = args.start or end - timedelta(days=max(args.days, 1) - 1)
    if end < start:
        raise argparse.ArgumentTypeError(f"--to {end} is before --from {start}")
    return start, end


def cmd_diff(args: argparse.Namespace) -> int:
    from metricdag.changes.run import diff_metric
    from metricdag.changes.selection import changed_metrics
    from metricdag.errors import MetricdagError
    from metricdag.settings import load_environment
    from metricdag.spec.loader import load_metric_named

    env = load_environment()
    names = list(args.metrics)
    if (args.list or args.publish_base) and not args.changed_since:
        raise MetricdagError("--list and --publish-base go with --changed-since REF")
    if args.changed_since:
        changes = changed_metrics(env.project_root, args.changed_since)
        if args.list:
            for c in changes:
                print(c.metric)
            return 0
        for c in changes:
            if c.is_new:
                print(f"{c.metric}: new since {args.changed_since} (version {c.head}): nothing published to compare with")
            else:
                print(f"{c.metric}: version {c.base} -> {c.head}")
        names += [c.metric for c in changes if not c.is_new and c.metric not in names]
        if not names:
            print(f"no metric's version changed since {args.changed_since}: nothing to diff")
            return 0
    if not names:
        raise MetricdagError("name a metric (metricdag diff METRIC --from D1 --to D2) or give --changed-since REF")
    try:
        start, end = _range(args, env)
    except argparse.ArgumentTypeError as exc:
        raise MetricdagError(str(exc)) from None
    if args.publish_base:
        from metricdag.changes.baseline import publish_base
        from metricdag.changes.scratch_run import days_between

        publish_base(env, env.project_root, args.changed_since, names, days_between(start, end))
    worst = 0
    for name in names:
        metric = load_metric_named(name, env.project_root)
        outcome = diff_metric(metric, env, start, end, Path(args.reports) if args.reports else None)
        print(outcome.summary)
        print(f"reports: {', '.join(str(p) for p in outcome.reports.values())}")
        if not outcome.verdict.ok:
            print(f"{name}: FAILED", file=sys.stderr)
        worst = max(worst, outcome.exit_code)
    return worst
