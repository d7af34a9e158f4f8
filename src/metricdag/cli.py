"""The ``metricdag`` command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from tabulate import tabulate

from metricdag.errors import MetricdagError, SpecError


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


def cmd_stack(args: argparse.Namespace) -> int:
    from metricdag.localstack import stack

    env = _env()
    if args.action == "up":
        services = stack.up(env)
        for s in services:
            print(f"{s.name:10} {s.host}:{s.port}  pid {s.pid}  log {s.log}")
    elif args.action == "down":
        stopped = stack.down(env)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        rows = stack.status(env)
        if not rows:
            print("the local stack is not running (start it with: metricdag stack up)")
            return 1
        print(tabulate(rows, headers="keys"))
        return 0 if all(r["status"] == "running" for r in rows) else 1
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from metricdag.localstack.seed import seed

    report = seed(_env(), rows_per_day=args.rows)
    print(
        f"catalog: {report.catalog_published} published, {report.catalog_present} already present; "
        f"pos_transactions: {report.pos_rows} rows over {len(report.days)} day(s) "
        f"({report.days[0]} .. {report.days[-1]})"
    )
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from metricdag import catalog_cli

    return catalog_cli.run(args, _env())


def _use_project_instance(env) -> Path:
    """Point this process and its children (``dagster dev``) at the project's Dagster instance
    (``settings.dagster_home``: DAGSTER_HOME, else the project's ``.dagster/``, as ``make`` sets it)."""
    from metricdag.settings import dagster_home

    home = dagster_home(env.project_root)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _project_instance(env):
    import dagster as dg

    _use_project_instance(env)
    return dg.DagsterInstance.get()


def _spec_failure(exc: MetricdagError) -> str:
    return "failed: " + "; ".join(line for line in str(exc).splitlines() if line.strip())


def cmd_run(args: argparse.Namespace) -> int:
    from metricdag.localstack import stack
    from metricdag.localstack.seed import seed
    from metricdag.runner import SummaryRow, failed_upstreams, materialize_metric, progress_printer, run_order
    from metricdag.spec.loader import discover_metric_folders, load_metric

    env = _env()
    started_here = False
    if env.localstack is not None and not stack.require_whole_stack(env):  # a partial stack is an error
        print("starting the local stack ...")
        stack.up(env)
        started_here = True
    try:
        if env.localstack is not None and not args.no_seed:
            t0 = time.perf_counter()
            report = seed(env, rows_per_day=args.rows)
            print(f"seeded {report.pos_rows} POS rows over {len(report.days)} day(s) in {time.perf_counter() - t0:.1f}s")
        partition = args.date or (env.localstack.sample.end_date.isoformat() if env.localstack else None)
        if partition is None:
            raise MetricdagError("--date is required outside the local environment")
        folders = discover_metric_folders(env.project_root)
        if args.metric:
            unknown = sorted(set(args.metric) - {f.name for f in folders})
            if unknown:
                raise MetricdagError(
                    f"no metric {', '.join(unknown)} under {env.project_root / 'metrics'} "
                    f"(known: {', '.join(f.name for f in folders) or 'none'})"
                )
            folders = [f for f in folders if f.name in args.metric]
        by_name = {f.name: f for f in folders}
        rows, failed, upstreams = [], set(), {}
        for name, folder in by_name.items():  # a broken metric.yaml fails that metric alone
            try:
                upstreams[name] = load_metric(folder, env.project_root).spec.upstream_metrics()
            except MetricdagError as exc:
                rows.append(SummaryRow(name, partition, "(not loaded)", None, 0.0, _spec_failure(exc)))
                failed.add(name)
        instance = _project_instance(env)
        for name in run_order(upstreams):  # a metric runs after the metrics it reads from
            if blocked := failed_upstreams(name, upstreams, failed):
                rows.append(SummaryRow(name, partition, "(not run)", None, 0.0, f"skipped: {', '.join(blocked)} failed"))
                failed.add(name)
                continue
            print(f"{name} {partition}:", flush=True)
            try:
                success, summary = materialize_metric(
                    by_name[name], env, partition, instance, verbose=args.verbose,
                    on_event=None if args.verbose else progress_printer(),
                )
            except MetricdagError as exc:  # its definitions or its version lock could not be made
                success, summary = False, [SummaryRow(name, partition, "(not run)", None, 0.0, _spec_failure(exc))]
            if not success:
                failed.add(name)
            rows += summary
        print(tabulate([asdict(r) for r in rows], headers="keys", tablefmt="github", floatfmt=".2f"))
        print("some steps failed: see the table above and the Dagster run log" if failed else "all metrics succeeded")
        return 1 if failed else 0
    finally:
        if started_here and not args.keep_stack:
            stack.down(env)
            print("stopped the local stack")


def _dagster_port() -> int:
    value = os.environ.get("DAGSTER_PORT", "3000")
    try:
        return int(value)
    except ValueError:
        raise MetricdagError(f"DAGSTER_PORT={value!r} is not a port number") from None


def cmd_dev(args: argparse.Namespace) -> int:
    """Local stack + seeded data + `dg dev` (every metric's location); on exit stop Dagster's
    whole process group and the stack."""
    import signal
    import subprocess

    from metricdag.localstack import stack
    from metricdag.localstack.processes import stop_process_group
    from metricdag.localstack.seed import seed
    from metricdag.workspace import dg_command

    env = _env()
    port = args.port or _dagster_port()
    _use_project_instance(env)  # the UI shows the runs `metricdag run` made
    stack.up(env)
    proc = None
    try:
        report = seed(env)
        print(f"seeded {report.pos_rows} POS rows; Dagster UI on http://{args.host}:{port} (Ctrl-C stops everything)")
        proc = subprocess.Popen(
            dg_command(env.project_root, "dev", "-h", args.host, "-p", str(port)),
            cwd=env.project_root,
            start_new_session=True,  # its webserver, daemon and code servers share this group
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGINT)  # let dg dev shut its children down
                proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if proc is not None:
            stop_process_group(proc.pid, timeout_s=10)  # whatever is left of the group
        stack.down(env)
        print("stopped Dagster and the local stack")


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
# parsers whose `fn(args) -> int` runs the command.
COMMAND_MODULES: tuple[str, ...] = (
    "metricdag.events.cli", "metricdag.audit.cli", "metricdag.testing.cli", "metricdag.review.cli", "metricdag.versioning.cli",
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

    s = sub.add_parser("stack", help="the local stack: fakesnow + catalog service on loopback")
    s.add_argument("action", choices=["up", "down", "status"])
    s.set_defaults(fn=cmd_stack)

    sd = sub.add_parser("seed", help="publish the local catalog entries and load the sample data")
    sd.add_argument("--rows", type=int, default=None, help="POS rows per day (default from the environment)")
    sd.set_defaults(fn=cmd_seed)

    from metricdag.catalog_cli import add_arguments

    c = sub.add_parser("catalog", help="the central catalog: list, show, publish, snapshots, refresh")
    add_arguments(c)
    c.set_defaults(fn=cmd_catalog)

    r = sub.add_parser("run", help="materialize every metric for one day, through every layer")
    r.add_argument("--date", help="partition (YYYY-MM-DD); default: the sample date of the local environment")
    r.add_argument("--metric", action="append", help="only this metric (repeatable)")
    r.add_argument("--rows", type=int, default=None, help="POS rows per day to seed")
    r.add_argument("--no-seed", action="store_true", help="do not (re)seed sample data first")
    r.add_argument("--keep-stack", action="store_true", help="leave the local stack running afterwards")
    r.add_argument("--verbose", action="store_true", help="print Dagster's own log (DEBUG) instead of one line per step")
    r.set_defaults(fn=cmd_run)

    d = sub.add_parser("dev", help="local stack + sample data + `dg dev` with every metric's code location")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=None, help="UI port (default: $DAGSTER_PORT, else 3000)")
    d.set_defaults(fn=cmd_dev)

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
