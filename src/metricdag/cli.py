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
    return 0 if report.ok else 1


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


def cmd_run(args: argparse.Namespace) -> int:
    import dagster as dg

    from metricdag.localstack import stack
    from metricdag.localstack.seed import seed
    from metricdag.runner import SummaryRow, failed_upstreams, materialize_metric, run_order
    from metricdag.spec.loader import discover_metric_folders, load_metric

    env = _env()
    started_here = False
    if env.localstack is not None and not stack.is_running(env):
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
            folders = [f for f in folders if f.name in args.metric]
        by_name = {f.name: f for f in folders}
        upstreams = {name: load_metric(f, env.project_root).spec.upstream_metrics() for name, f in by_name.items()}
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        rows, ok, failed = [], True, set()
        for name in run_order(upstreams):  # a metric runs after the metrics it reads from
            if blocked := failed_upstreams(name, upstreams, failed):
                rows.append(SummaryRow(name, partition, "(not run)", None, 0.0, f"skipped: {', '.join(blocked)} failed"))
                failed.add(name)
                ok = False
                continue
            success, summary = materialize_metric(by_name[name], env, partition, instance)
            if not success:
                failed.add(name)
            ok &= success
            rows += summary
        print(tabulate([asdict(r) for r in rows], headers="keys", tablefmt="github", floatfmt=".2f"))
        print("all metrics succeeded" if ok else "some steps failed: see the table above and the Dagster run log")
        return 0 if ok else 1
    finally:
        if started_here and not args.keep_stack:
            stack.down(env)
            print("stopped the local stack")


def cmd_dev(args: argparse.Namespace) -> int:
    """Local stack + seeded data + `dagster dev`; on exit stop Dagster's whole process group and the stack."""
    import signal
    import subprocess

    from metricdag.localstack import stack
    from metricdag.localstack.processes import stop_process_group
    from metricdag.localstack.seed import seed

    env = _env()
    stack.up(env)
    proc = None
    try:
        report = seed(env)
        print(f"seeded {report.pos_rows} POS rows; Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops everything)")
        dagster = Path(sys.executable).with_name("dagster")
        proc = subprocess.Popen(
            [str(dagster), "dev", "-w", str(env.project_root / "workspace.yaml"), "-h", args.host, "-p", str(args.port)],
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
                os.killpg(proc.pid, signal.SIGINT)  # let dagster dev shut its children down
                proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if proc is not None:
            stop_process_group(proc.pid, timeout_s=10)  # whatever is left of the group
        stack.down(env)
        print("stopped Dagster and the local stack")


def cmd_sql(args: argparse.Namespace) -> int:
    from metricdag.warehouse import run_query

    columns, rows = run_query(_env().snowflake, args.query)
    if columns:
        print(tabulate(rows, headers=columns, tablefmt="github", floatfmt=".2f"))
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    else:
        print("ok")
    return 0


def cmd_workspace(args: argparse.Namespace) -> int:
    from metricdag.settings import find_project_root
    from metricdag.workspace import WORKSPACE_FILE, render_workspace

    root = find_project_root()
    text = render_workspace(root)
    path = root / WORKSPACE_FILE
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path} is out of date with metrics/*/: run `metricdag workspace`", file=sys.stderr)
            return 1
        print(f"{path} is in sync")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


# Packages that bring their own subcommands: each module has `register(subparsers)`, adding
# parsers whose `fn(args) -> int` runs the command.
COMMAND_MODULES: tuple[str, ...] = (
    "metricdag.events.cli", "metricdag.audit.cli", "metricdag.testing.cli", "metricdag.review.cli", "metricdag.versioning.cli",
    "metricdag.backfill.cli",
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
    r.set_defaults(fn=cmd_run)

    d = sub.add_parser("dev", help="local stack + sample data + `dagster dev` with every metric's code location")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=3000)
    d.set_defaults(fn=cmd_dev)

    q = sub.add_parser("sql", help="run a query against the configured Snowflake and print a table")
    q.add_argument("query")
    q.set_defaults(fn=cmd_sql)

    w = sub.add_parser("workspace", help="write workspace.yaml from metrics/*/ (--check: fail if out of date)")
    w.add_argument("--check", action="store_true")
    w.set_defaults(fn=cmd_workspace)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return p


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


if __name__ == "__main__":
    sys.exit(main())
