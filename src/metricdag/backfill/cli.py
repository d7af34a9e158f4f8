"""``metricdag backfill <metric> --from D --to D``: the range, oldest first, published at once."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict

from tabulate import tabulate


def register(subparsers) -> None:
    b = subparsers.add_parser(
        "backfill",
        help="recompute a range of partitions through every layer into a staging schema, and publish the "
        "range into production in one transaction once every review check passed",
    )
    b.add_argument("metric", help="metric name (a folder under metrics/)")
    b.add_argument("--from", dest="start", required=True, help="first partition (YYYY-MM-DD)")
    b.add_argument("--to", dest="end", required=True, help="last partition (YYYY-MM-DD), inclusive")
    b.add_argument(
        "--publish-mode", choices=["staging", "in-place"], default="staging",
        help="staging (default): all partitions or none; in-place: each day loads production as it passes "
        "(for ranges too large for one transaction)",
    )
    b.add_argument("--keep-staging", action="store_true", help="keep the staging schema when the backfill fails")
    b.set_defaults(fn=cmd_backfill)


def instance():
    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def cmd_backfill(args: argparse.Namespace) -> int:
    from metricdag.backfill.progress import ProgressBar, Tally
    from metricdag.backfill.range import parse_day, partition_days
    from metricdag.backfill.run import run_backfill
    from metricdag.settings import load_environment
    from metricdag.spec.loader import load_metric_named

    env = load_environment()
    metric = load_metric_named(args.metric, env.project_root)
    days = partition_days(parse_day(args.start, "--from"), parse_day(args.end, "--to"),
                          metric.spec.partitions.start_date, metric=metric.name)
    with ProgressBar(Tally(len(days)), f"backfill {metric.name}") as bar:
        result = run_backfill(
            metric.folder, env, days, instance(), mode=args.publish_mode, keep_staging=args.keep_staging,
            on_start=lambda d: bar.start(d.isoformat()), on_done=lambda o: bar.advance(o.day.isoformat(), o.ok),
        )
    print(tabulate([asdict(r) for r in result.summary], headers="keys", tablefmt="github", floatfmt=".2f"))
    print(report(result, bar.tally.elapsed()))
    return 0 if result.ok else 1


def report(result, seconds: float) -> str:
    """The closing lines: what failed and why, what was published, where staging went."""
    lines = []
    n = len(result.partitions)
    for p in result.failed:
        lines.append(f"FAILED {p.day}: " + "; ".join(p.causes))
    if result.mode == "in-place":
        done = n - len(result.failed)
        lines.append(f"backfill {result.backfill_id} of {result.metric}: {done} of {n} partition(s) loaded in place "
                     f"in {seconds:.1f}s")
    elif result.failed:
        lines.append(f"backfill {result.backfill_id} of {result.metric}: {len(result.failed)} of {n} partition(s) failed; "
                     "nothing was published, production is unchanged")
    elif result.publish_error:
        lines.append(f"backfill {result.backfill_id} of {result.metric}: publishing failed and was rolled back, "
                     f"production is unchanged: {result.publish_error}")
    else:
        for t in result.published:
            changed = len(t.changed)
            lines.append(f"published {t.table}: {len(t.partitions)} partition(s), {changed} changed, "
                         f"{len(t.partitions) - changed} already identical, {sum(p.rows for p in t.partitions)} rows")
        lines.append(f"backfill {result.backfill_id} of {result.metric}: {n} partition(s) published in one "
                     f"transaction in {seconds:.1f}s")
    if result.staging_kept:
        lines.append("kept staging schema(s): " + ", ".join(result.staging_schemas))
    elif result.staging_schemas:
        lines.append("dropped staging schema(s): " + ", ".join(result.staging_schemas))
    return "\n".join(lines)

