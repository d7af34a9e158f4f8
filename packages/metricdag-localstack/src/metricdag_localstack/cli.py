"""The local stack's commands, added to ``metricdag`` through the ``metricdag.commands`` entry
point: ``metricdag stack up|down|status``, ``metricdag seed``, ``metricdag run`` (what ``make run``
calls) and ``metricdag dev`` (what ``make dev`` calls)."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict
from pathlib import Path

from tabulate import tabulate

from metricdag.errors import MetricdagError
from metricdag.settings import load_environment


def cmd_stack(args: argparse.Namespace) -> int:
    from metricdag_localstack import stack

    env = load_environment()
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
    from metricdag_localstack.seed import seed

    report = seed(load_environment(), rows_per_day=args.rows)
    print(
        f"catalog: {report.catalog_published} published, {report.catalog_present} already present; "
        f"pos_transactions: {report.pos_rows} rows over {len(report.days)} day(s) "
        f"({report.days[0]} .. {report.days[-1]})"
    )
    return 0


def _use_project_instance(env) -> Path:
    """Point this process and its children (``dg dev``) at the project's Dagster instance
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
    from metricdag.day_run import SummaryRow, failed_upstreams, materialize_metric, progress_printer, run_order
    from metricdag.spec.loader import discover_metric_folders, load_metric
    from metricdag_localstack import stack
    from metricdag_localstack.seed import seed

    env = load_environment()
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

    from metricdag_localstack import stack
    from metricdag_localstack.processes import stop_process_group
    from metricdag.workspace import dg_command
    from metricdag_localstack.seed import seed

    env = load_environment()
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


def register(sub) -> None:
    """Add the local stack's subcommands to the `metricdag` parser's subparsers."""
    s = sub.add_parser("stack", help="the local stack: fakesnow + catalog service on loopback")
    s.add_argument("action", choices=["up", "down", "status"])
    s.set_defaults(fn=cmd_stack)

    sd = sub.add_parser("seed", help="publish the local catalog entries and load the sample data")
    sd.add_argument("--rows", type=int, default=None, help="POS rows per day (default from the environment)")
    sd.set_defaults(fn=cmd_seed)

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
