"""The local Snowflake: one fakesnow server process that owns the DuckDB files.

    python -m metricdag.localstack.snowflake_server --db-dir DIR --host 127.0.0.1 --port P

DuckDB allows one writer process per file, so this process is the only one that opens the
files under ``DIR``; everything else (Dagster steps, the persister, the CLI) connects over
Snowflake's HTTP protocol with the unchanged snowflake connector.

``fakesnow -s -d DIR`` does not persist (its server sessions share an in-memory instance), so
this wrapper points the server's shared instance at ``DIR`` and, before serving, attaches every
existing ``<DB>.db`` file so that connections that name no database still see them after a
restart.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakesnow.instance import FakeSnow

log = logging.getLogger("metricdag.localstack.snowflake_server")


def existing_databases(db_dir: Path) -> list[str]:
    """Names of the databases stored in ``db_dir`` (one ``<NAME>.db`` file each), sorted."""
    return sorted(p.stem for p in db_dir.glob("*.db") if p.is_file())


def attach_existing(instance: FakeSnow, db_dir: Path) -> list[str]:
    """Attach every ``<NAME>.db`` file of ``db_dir`` to the fakesnow ``instance``.

    fakesnow attaches ``<db_dir>/<NAME upper-cased>.db`` when a connection names a database, so
    files whose stem is not upper case (which fakesnow itself never creates for unquoted
    names) are skipped with a warning rather than shadowed by a new empty file.
    """
    attached = []
    for name in existing_databases(db_dir):
        if name != name.upper():
            log.warning("skipping %s: fakesnow only attaches upper-case database files", db_dir / f"{name}.db")
            continue
        instance.connect(database=name).close()  # fakesnow ATTACHes <db_dir>/<NAME>.db on connect
        attached.append(name)
    return attached


def serve(db_dir: Path, host: str, port: int, log_level: str = "warning") -> None:
    import fakesnow.server
    import uvicorn
    from fakesnow.instance import FakeSnow

    db_dir.mkdir(parents=True, exist_ok=True)
    # DuckDB warns on every result fetched as Arrow by fakesnow; it says nothing actionable here
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
    logging.getLogger("fakesnow").setLevel(log_level.upper())
    logging.getLogger("fakesnow.server").setLevel(log_level.upper())

    instance = FakeSnow(db_path=db_dir)
    fakesnow.server.shared_fs = instance
    attached = attach_existing(instance, db_dir)
    log.warning(
        "local snowflake starting on http://%s:%d over %s (databases: %s)",
        host,
        port,
        db_dir,
        ", ".join(attached) or "none yet",
    )

    config = uvicorn.Config(fakesnow.server.app, host=host, port=port, log_level=log_level, access_log=False)
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises the signal; turn that into
    # SystemExit so the checkpoint below still runs instead of the process dying mid-way.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run()
    finally:
        checkpoint(instance.duck_conn)
        log.warning("local snowflake stopped; data kept in %s", db_dir)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def checkpoint(duck_conn: Any) -> None:
    """Write every attached database file's WAL into the file (committed data is durable
    either way: DuckDB replays the WAL on the next start)."""
    try:
        names = [
            row[0]
            for row in duck_conn.execute(
                "SELECT database_name FROM duckdb_databases() WHERE path IS NOT NULL AND NOT internal"
            ).fetchall()
        ]
        for name in names:
            duck_conn.execute(f'CHECKPOINT "{name}"')
    except Exception as exc:  # a session still inside a transaction; the WAL keeps the data
        log.warning("checkpoint at shutdown skipped: %s", exc)


def arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m metricdag.localstack.snowflake_server",
        description="Serve a persistent local Snowflake (fakesnow over DuckDB files) on loopback.",
    )
    parser.add_argument("--db-dir", required=True, type=Path, help="folder holding one <DATABASE>.db file per database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = arg_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.db_dir.resolve(), args.host, args.port, args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
