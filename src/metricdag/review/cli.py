"""``metricdag review backtest``: a check in report-only mode over past partitions."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from tabulate import tabulate

from metricdag.errors import MetricdagError
from metricdag.spec.layers import METRIC_CALCULATION, REVIEW


def register(subparsers) -> None:
    review = subparsers.add_parser("review", help="data-quality checks outside a run")
    actions = review.add_subparsers(dest="review_action", required=True)
    b = actions.add_parser(
        "backtest",
        help="compute a metric's review checks over its last N stored partitions and show when each would have fired",
    )
    b.add_argument("metric", help="metric name (a folder under metrics/)")
    b.add_argument("--check", help="only this check (its name: the type, or <type>_<position> when repeated)")
    b.add_argument("--dataset", help="only the checks of this reviewed dataset")
    b.add_argument("--last", type=int, help="how many partitions, ending with --end "
                   "(default: the environment's review.backtest_partitions, 30)")
    b.add_argument("--end", type=date.fromisoformat, help="last partition (default: the newest one stored)")
    b.set_defaults(fn=cmd_backtest)
    s = actions.add_parser(
        "suggest",
        help="profile the accepted partitions of each output and print a review: block of suggested checks",
    )
    s.add_argument("metric", help="metric name (a folder under metrics/)")
    s.add_argument("--last", type=int, default=30, help="how many of the newest stored partitions to profile (default 30)")
    s.set_defaults(fn=cmd_suggest)
    h = actions.add_parser(
        "history",
        help="the metrics repository: each check evaluation of a metric (value, threshold, outcome, version, run)",
    )
    h.add_argument("metric", help="metric name")
    h.add_argument("--check", help="only this check (its name: the type, or <type>_<position> when repeated)")
    h.add_argument("--dataset", help="only the checks of this reviewed dataset")
    h.add_argument("--all", action="store_true", help="every evaluation, not only the last one per partition and check")
    h.set_defaults(fn=cmd_history)


def cmd_backtest(args: argparse.Namespace) -> int:
    from metricdag.factory.assets import dataset_key
    from metricdag.io.objectstore import env_store
    from metricdag.review.backtest import backtest, fire_counts
    from metricdag.review.checks import check_names
    from metricdag.review.history import last_days, partition_reader, stored_days
    from metricdag.settings import load_environment
    from metricdag.spec.loader import load_metric

    from metricdag.audit.store import audit_store_for
    from metricdag.review.backtest import record_backtests

    env = load_environment()
    args.last = env.review.backtest_partitions if args.last is None else args.last
    if args.last < 1:
        raise MetricdagError("--last must be at least 1")
    repository = audit_store_for(env)
    folder = env.project_root / "metrics" / args.metric
    metric = load_metric(folder, env.project_root)
    store = env_store(env)
    reviews = [r for r in metric.spec.review if args.dataset in (None, r.dataset)]
    if not reviews:
        raise MetricdagError(f"metric {metric.name!r} reviews no dataset {args.dataset!r}")

    found_check = False
    for review in reviews:
        checks = [(n, c) for n, c in check_names(review) if args.check in (None, n)]
        if not checks:
            continue
        found_check = True
        checked = list(dataset_key(metric, review.dataset).path)
        accepted = [metric.name, REVIEW, review.dataset]
        end = args.end or next(iter(stored_days(store, env.object_store_uri, env.name, checked)[-1:]), None)
        if end is None:
            print(f"{'/'.join(checked)}: no stored partitions")
            continue
        rows = backtest(
            checks,
            last_days(end, args.last),
            partition_reader(store, env.object_store_uri, env.name, checked),
            partition_reader(store, env.object_store_uri, env.name, accepted),
            review.dataset,
            next((o.key for _, n in metric.spec.nodes() for o in n.outputs if o.dataset == review.dataset), []),
        )
        print(f"{'/'.join(checked)}: {args.last} partition(s) ending {end}")
        print(tabulate(
            [(r.partition, r.check, "-" if r.value is None else f"{r.value:,.2f}",
              "-" if r.would_fire is None else ("yes" if r.would_fire else "no"), r.detail) for r in rows],
            headers=["partition", "check", "value", "would_fire", "detail"],
        ))
        for name, (fired, judged) in fire_counts(rows).items():
            print(f"{review.dataset}:{name}: would have fired on {fired} of {judged} partition(s) with data")
        if repository is not None:  # the backtested gates read these
            record_backtests(repository, env.name, metric.name, review.dataset, checks, rows)
            print(f"recorded in the metrics repository of {env.name!r}")
        print()
    if not found_check:
        print(f"no check named {args.check!r} in the review of {metric.name!r}", file=sys.stderr)
        return 1
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from metricdag.factory.assets import asset_key, dataset_key
    from metricdag.io.objectstore import env_store
    from metricdag.review.history import partition_reader, stored_days
    from metricdag.review.profile import profile
    from metricdag.review.suggest import render_review, suggested_checks
    from metricdag.settings import load_environment
    from metricdag.spec.loader import load_metric

    if args.last < 1:
        raise MetricdagError("--last must be at least 1")
    env = load_environment()
    metric = load_metric(env.project_root / "metrics" / args.metric, env.project_root)
    store = env_store(env)
    reviews = {r.dataset: r for r in metric.spec.review}
    entries = []
    for layer, node in metric.spec.nodes():
        for out in node.outputs:
            reviewed = out.dataset in reviews
            if not reviewed and layer != METRIC_CALCULATION:
                continue  # an intermediate dataset: suggested only once it is reviewed
            # accepted partitions of a reviewed output; the stored ones of an output not reviewed yet
            path = list((asset_key(metric.name, REVIEW, out.dataset) if reviewed else dataset_key(metric, out.dataset)).path)
            days = stored_days(store, env.object_store_uri, env.name, path)[-args.last:]
            read = partition_reader(store, env.object_store_uri, env.name, path)
            frames = {d: f for d in days if (f := read(d)) is not None}
            if frames:
                prof = profile(out.dataset, frames, out.key)
                layer = "accepted" if reviewed else "stored (not reviewed yet)"
                note = f"suggested from {len(frames)} {layer} partition(s) of {'/'.join(path)}, {prof.first} to {prof.last}"
                checks = suggested_checks(prof, out.key)
                if reviewed:  # checks a profile cannot suggest (measures, history, queries) stay as they are
                    suggested = {fields["type"] for fields, _ in checks}
                    checks += [(c.model_dump(exclude_none=True), "kept from metric.yaml")
                               for c in reviews[out.dataset].checks if c.type not in suggested]
                entries.append((out.dataset, checks, note))
            elif reviewed:
                current = [(c.model_dump(exclude_none=True), "") for c in reviews[out.dataset].checks]
                entries.append((out.dataset, current, f"no stored partitions of {'/'.join(path)}: its current checks are kept"))
            else:
                print(f"# {out.dataset}: no stored partitions of {'/'.join(path)}, nothing to suggest", file=sys.stderr)
    if not entries:
        print(f"metric {metric.name!r}: no output has stored partitions to profile", file=sys.stderr)
        return 1
    print(render_review(entries), end="")
    return 0


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.2f}"


def cmd_history(args: argparse.Namespace) -> int:
    from metricdag.audit.store import audit_store_for
    from metricdag.review.repository import latest
    from metricdag.settings import current_environment

    env = current_environment()
    store = audit_store_for(env)
    if store is None:
        raise MetricdagError(f"environment {env.name!r} configures no audit store (audit: url), so no metrics repository")
    found = store.evaluations(env.name, args.metric, check=args.check, dataset=args.dataset)
    rows = found if args.all else latest(found)
    if not rows:
        what = f" of check {args.check!r}" if args.check else ""
        print(f"no evaluation{what} of metric {args.metric!r} in the metrics repository of {env.name!r}", file=sys.stderr)
        return 1
    print(tabulate(
        [(e.partition, e.dataset, e.check, _value(e.value), e.threshold, "pass" if e.passed else "FAIL", e.severity,
          e.metric_version[:12], e.run_id[:8], e.recorded_at.strftime("%Y-%m-%d %H:%M:%S")) for e in rows],
        headers=["partition", "dataset", "check", "value", "threshold", "outcome", "severity", "metric_version", "run",
                 "recorded_at"],
    ))
    return 0
