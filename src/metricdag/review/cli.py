"""``metricdag review backtest``: a check in report-only mode over past partitions."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from tabulate import tabulate

from metricdag.errors import MetricdagError


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
    b.add_argument("--last", type=int, default=30, help="how many partitions, ending with --end (default 30)")
    b.add_argument("--end", type=date.fromisoformat, help="last partition (default: the newest one stored)")
    b.set_defaults(fn=cmd_backtest)


def cmd_backtest(args: argparse.Namespace) -> int:
    from metricdag.factory.assets import dataset_key
    from metricdag.io.objectstore import store_for
    from metricdag.review.backtest import backtest, fire_counts
    from metricdag.review.checks import check_names
    from metricdag.review.history import last_days, partition_reader, stored_days
    from metricdag.settings import load_environment
    from metricdag.spec.loader import load_metric

    if args.last < 1:
        raise MetricdagError("--last must be at least 1")
    env = load_environment()
    folder = env.project_root / "metrics" / args.metric
    metric = load_metric(folder, env.project_root)
    store = store_for(env.object_store_uri, env.object_store.s3_endpoint_url, env.object_store.s3_region)
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
        accepted = [metric.name, "review", review.dataset]
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
        )
        print(f"{'/'.join(checked)}: {args.last} partition(s) ending {end}")
        print(tabulate(
            [(r.partition, r.check, "-" if r.value is None else f"{r.value:,.2f}",
              "-" if r.would_fire is None else ("yes" if r.would_fire else "no"), r.detail) for r in rows],
            headers=["partition", "check", "value", "would_fire", "detail"],
        ))
        for name, (fired, judged) in fire_counts(rows).items():
            print(f"{review.dataset}:{name}: would have fired on {fired} of {judged} partition(s) with data")
        print()
    if not found_check:
        print(f"no check named {args.check!r} in the review of {metric.name!r}", file=sys.stderr)
        return 1
    return 0
