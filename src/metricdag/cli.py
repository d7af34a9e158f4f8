"""The ``metricdag`` command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from tabulate import tabulate

from metricdag.errors import MetricdagError


def _env():
    from metricdag.settings import load_environment

    return load_environment()


def cmd_validate(args: argparse.Namespace) -> int:
    from metricdag.settings import find_project_root
    from metricdag.spec.project import validate_project

    root = find_project_root()
    folders = [Path(p) for p in args.folders]
    report = validate_project(root, folders or None)
    strict = []
    if args.strict:  # blocking checks must be backtested (the metrics repository of the environment)
        from metricdag.review.gates import project_strict_problems

        strict = project_strict_problems(report.metrics, root)
    for metric in report.metrics:
        nodes = len(metric.spec.preprocessing) + len(metric.spec.metric_calculation)
        print(f"ok  {metric.folder}: {metric.name} ({len(metric.spec.sourcing)} sources, {nodes} nodes)")
    for problem in report.problems:
        print(problem, file=sys.stderr)
    checked = len(report.metrics) + len(report.invalid)
    if report.invalid:
        print(f"{len(report.invalid)} of {checked} metric(s) invalid", file=sys.stderr)
    elif report.problems:
        print(f"{len(report.problems)} problem(s) in pipeline-configs", file=sys.stderr)
    for problem in strict:
        print(problem, file=sys.stderr)
    if strict:
        print(f"--strict: {len(strict)} blocking check(s) not backtested as required", file=sys.stderr)
    return 0 if report.ok and not strict else 1


def cmd_catalog(args: argparse.Namespace) -> int:
    from metricdag import catalog_cli

    return catalog_cli.run(args, _env())


def _cell(value):
    """A value as the warehouse returned it: numbers unrounded, dates ISO, NULL as ''."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _json_value(value):
    import decimal

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _cell(value)


def format_rows(columns: list[str], rows: list[tuple], fmt: str = "table") -> str:
    """Query results as a table, CSV or JSON (a list of objects), every value as it is."""
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)
        return out.getvalue().rstrip("\n")
    if fmt == "json":
        import json

        return json.dumps([{c: _json_value(v) for c, v in zip(columns, row)} for row in rows], indent=2)
    table = tabulate([[_cell(v) for v in row] for row in rows], headers=columns, tablefmt="github", disable_numparse=True)
    return f"{table}\n({len(rows)} row{'s' if len(rows) != 1 else ''})"


def cmd_sql(args: argparse.Namespace) -> int:
    from metricdag.warehouse import run_query

    columns, rows = run_query(_env().snowflake, args.query)
    print(format_rows(columns, rows, args.format) if columns else "ok")
    return 0


def cmd_workspace(args: argparse.Namespace) -> int:
    from metricdag.settings import find_project_root
    from metricdag.workspace import WORKSPACE_FILE, out_of_date, write_workspace

    root = find_project_root()
    if args.check:
        stale = out_of_date(root)
        for path in stale:
            print(f"{path} is out of date with metrics/*/: run `metricdag workspace`", file=sys.stderr)
        if not stale:
            print(f"{root / WORKSPACE_FILE} and metrics/*/dg.toml are in sync")
        return 1 if stale else 0
    written = write_workspace(root)
    print("\n".join(f"wrote {path}" for path in written) or "the dg workspace is up to date")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from metricdag.scaffold import create_metric
    from metricdag.settings import find_project_root

    root = find_project_root()
    for path in create_metric(args.name, root):
        print(f"wrote {path.relative_to(root)}")
    print(f"next: metricdag validate metrics/{args.name} && metricdag run --metric {args.name}")
    return 0


# Packages that bring their own subcommands: each module has `register(subparsers)`, adding
# parsers whose `fn(args) -> int` runs the command. Other installed distributions add theirs
# through the entry point group COMMANDS_GROUP (the local stack: `stack`, `seed`, `run`, `dev`;
# the testing framework: `test-node`, `snapshot`); the platform never imports them itself.
COMMANDS_GROUP = "metricdag.commands"
COMMAND_MODULES: tuple[str, ...] = (
    "metricdag.events.cli", "metricdag.audit.cli", "metricdag.review.cli", "metricdag.versioning.cli",
    "metricdag.changes.cli",
    "metricdag.lineage.cli",
    "metricdag.backfill.cli",
    "metricdag.deploy.cli",
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metricdag", description="Daily metrics on Dagster: YAML in, Snowflake out.")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser(
        "validate",
        help="check metric.yaml files (and, without folders, events.yaml and alerting.yaml); "
        "prints path:line: message per problem",
    )
    v.add_argument("folders", nargs="*", help="metric folders (default: every metrics/*/ and the pipeline configs)")
    v.add_argument("--strict", action="store_true",
                   help="also fail when a blocking check needs a backtest and has none, or its backtest fired on more "
                   "than review.max_fire_share of its partitions (reads the environment's metrics repository)")
    v.set_defaults(fn=cmd_validate)

    from metricdag.catalog_cli import add_arguments

    c = sub.add_parser("catalog", help="the central catalog: list, show, publish, snapshots, refresh")
    add_arguments(c)
    c.set_defaults(fn=cmd_catalog)

    q = sub.add_parser("sql", help="run a query against the configured Snowflake and print a table")
    q.add_argument("query")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format (default: table)")
    q.set_defaults(fn=cmd_sql)

    w = sub.add_parser("workspace", help="write the dg workspace (dg.toml, metrics/*/dg.toml) from metrics/*/ (--check: fail if out of date)")
    w.add_argument("--check", action="store_true")
    w.set_defaults(fn=cmd_workspace)

    n = sub.add_parser("new", help="scaffold something new in the project")
    what = n.add_subparsers(dest="what", required=True)
    nm = what.add_parser("metric", help="a new metric that validates and runs at once: metrics/NAME/ (metric.yaml, one python "
                         "node with its tests), its catalog entry, its events.yaml line, its code location")
    nm.add_argument("name", help="snake_case metric name (the folder, the code location, the output dataset)")
    nm.set_defaults(fn=cmd_new)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    for entry_point in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        entry_point.load().register(sub)
    return p


TRACEBACK_ENV = "METRICDAG_TRACEBACK"


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in out):
        out.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return out


def _first_line(exc: BaseException) -> str:
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return text or type(exc).__name__


def operational_cause(exc: BaseException) -> str | None:
    """One line for an expected operational error (a service that went away, a storage that
    broke, a file that vanished); None for a bug, whose traceback is the useful output."""
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from metricdag.retries import is_transient

    try:
        from snowflake.connector.errors import Error as SnowflakeError
    except ImportError:  # pragma: no cover - the connector is a dependency
        SnowflakeError = ()  # noqa: N806
    chain = _chain(exc)
    if not (is_transient(exc) or any(isinstance(e, (sqlite3.Error, SQLAlchemyError, SnowflakeError, OSError)) for e in chain)):
        return None
    what = _first_line(exc)
    if isinstance(exc, SQLAlchemyError) or any(isinstance(e, sqlite3.Error) for e in chain):
        what = f"the Dagster or audit storage failed: {what}"
    elif isinstance(exc, SnowflakeError):
        what = f"Snowflake: {what}"
    deepest = _first_line(chain[-1])
    if len(chain) > 1 and deepest not in what:
        what += f" (caused by {type(chain[-1]).__name__}: {deepest})"
    return what


def main(argv: Sequence[str] | None = None) -> int:
    from dotenv import load_dotenv

    load_dotenv(".env", override=False)
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except MetricdagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        cause = operational_cause(exc)
        if cause is None or getattr(args, "verbose", False) or os.environ.get(TRACEBACK_ENV):
            raise
        print(f"error: {cause}", file=sys.stderr)
        print(f"(set {TRACEBACK_ENV}=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
