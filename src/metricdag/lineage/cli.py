"""``metricdag explain METRIC --date D [--key COL=VALUE] [--compare-to DATE|VERSION|RUN] [--json]``."""

from __future__ import annotations

import argparse
import json
from datetime import date
from decimal import Decimal

from metricdag.lineage.explain import TOP_N, ExplainError, Publication, build_report, render


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain",
        help="where a published number comes from (metric version, node and input versions, run, review); "
        "--compare-to: why it changed, by key",
    )
    p.add_argument("metric", help="metric name (a folder under metrics/)")
    p.add_argument("--date", required=True, help="partition date YYYY-MM-DD")
    p.add_argument("--dataset", help="a persisted dataset of the metric (default: its first persist target)")
    p.add_argument("--key", action="append", default=[], metavar="COLUMN=VALUE",
                   help="only rows with this key value, e.g. store_id=S001 (repeatable)")
    p.add_argument("--compare-to", metavar="DATE|METRIC_VERSION|RUN_ID",
                   help="another publication: a date (its latest), a metric version (this date's latest under it) or a run id")
    p.add_argument("--top", type=int, default=TOP_N, help=f"keys shown per changed column (default {TOP_N})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(fn=cmd_explain)


def default_dataset(metric: str, publications: list) -> str:
    """The metric's first persist target (its folder's metric.yaml), else its first one published."""
    from metricdag.errors import MetricdagError
    from metricdag.settings import find_project_root
    from metricdag.spec.loader import load_metric_named

    try:
        persist = load_metric_named(metric, find_project_root()).spec.persist
        if persist:
            return persist[0].dataset
    except (MetricdagError, OSError):  # a metric removed or broken since: explain what was published
        pass
    if not publications:
        raise ExplainError(f"{metric}: nothing published in the audit store; run: metricdag run --metric {metric}")
    return publications[0].dataset


def snowflake_reader(env):
    """Rows a publication left: its run's rows in ``<TABLE>__HISTORY``, else in the table."""
    import pandas as pd

    from metricdag.persistence import sql
    from metricdag.warehouse import WarehouseError, run_query

    def read(pub: Publication) -> pd.DataFrame:
        target = sql.parse_table(pub.table)
        day = date.fromisoformat(pub.partition)
        for history in (True, False):
            statement = sql.select_published(target, pub.partition_column, day, pub.rows_run_id, history=history)
            try:
                columns, rows = run_query(env.snowflake, statement.sql, statement.params)
            except WarehouseError:
                continue  # no history table (or no table) any more
            if rows:
                frame = pd.DataFrame(rows, columns=[c.upper() for c in columns])
                for c in frame.columns:  # NUMBER(p,s) arrives as Decimal
                    if frame[c].map(lambda v: isinstance(v, Decimal)).any():
                        frame[c] = frame[c].astype(float)
                return frame
        raise ExplainError(
            f"the rows run {pub.rows_run_id} published into {pub.table} {pub.partition} are no longer in the table "
            "or its __HISTORY"
        )

    return read


def cmd_explain(args: argparse.Namespace) -> int:
    from metricdag.audit.store import audit_store_for
    from metricdag.settings import current_environment

    env = current_environment()
    store = audit_store_for(env)
    if store is None:
        raise ExplainError(f"environment {env.name} has no audit store (audit: in its environment file)")
    publications = store.publications(env.name, args.metric)
    dataset = args.dataset or default_dataset(args.metric, publications)
    report = build_report(
        publications, args.metric, dataset, args.date, compare_to=args.compare_to, key=args.key,
        top_n=args.top, read_rows=snowflake_reader(env),
    )
    print(json.dumps(report, indent=2, default=str) if args.json else render(report))
    return 0
