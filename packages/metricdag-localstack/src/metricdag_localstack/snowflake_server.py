"""The local Snowflake: one fakesnow server process that owns the DuckDB files.

    python -m metricdag_localstack.snowflake_server --db-dir DIR --host 127.0.0.1 --port P

DuckDB allows one writer process per file, so this process is the only one that opens the
files under ``DIR``; everything else (Dagster steps, the persister, the CLI) connects over
Snowflake's HTTP protocol with the unchanged snowflake connector.

``fakesnow -s -d DIR`` does not persist (its server sessions share an in-memory instance), so
this wrapper points the server's shared instance at ``DIR`` and, before serving, attaches every
existing ``<DB>.db`` file so that connections that name no database still see them after a
restart.

Two more differences from fakesnow's own server, both so that a load behaves as it would
against Snowflake:

* sessions do not outlive their client: a session that sits inside an open transaction with no
  request for ``--idle-transaction-timeout`` seconds (its client was killed mid-load) is rolled
  back and ended, like PostgreSQL's ``idle_in_transaction_session_timeout``; a session closed by
  its client is rolled back too (fakesnow only forgets it, leaving its transaction open);
* DuckDB's write-write conflict ("Conflict on tuple deletion!", which fakesnow answers with an
  HTTP 500 that the connector retries for about 90 s) is answered at once as Snowflake's lock
  error 000625, so the client sees that another transaction holds the rows.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import re
import signal
import sys
import threading
import time
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakesnow.instance import FakeSnow

log = logging.getLogger("metricdag.localstack.snowflake_server")

IDLE_TRANSACTION_TIMEOUT_S = 10.0
REAP_INTERVAL_S = 1.0
LOCK_CONFLICT_ERRNO = 625  # Snowflake: "statement aborted: another transaction holds the lock"
LOCK_CONFLICT_SQLSTATE = "57014"
_BEGIN = re.compile(r"\s*(BEGIN|START\s+TRANSACTION)\b", re.IGNORECASE)
_END = re.compile(r"\s*(COMMIT|ROLLBACK)\b", re.IGNORECASE)
_TOKEN = re.compile(r'Snowflake Token="([^"]*)"')


# ------------------------------------------------------------------------------- sessions


class SessionWatch:
    """Which sessions have a request running, when they last had one, and which are inside a
    transaction; :meth:`reap` ends those idle inside a transaction for longer than the timeout."""

    def __init__(
        self, sessions: MutableMapping[str, Any], idle_timeout_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sessions = sessions
        self.idle_timeout_s = idle_timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self._last_seen: dict[str, float] = {}
        self._open: weakref.WeakSet[Any] = weakref.WeakSet()  # connections inside BEGIN ... COMMIT

    def request_started(self, token: str) -> None:
        with self._lock:
            self._in_flight[token] += 1
            self._last_seen[token] = self.clock()

    def request_finished(self, token: str) -> None:
        with self._lock:
            self._in_flight[token] -= 1
            if self._in_flight[token] <= 0:
                del self._in_flight[token]
            self._last_seen[token] = self.clock()

    def statement_ran(self, conn: Any, sql_text: str) -> None:
        """Book-keeping of explicit transactions (fakesnow tracks them only without autocommit)."""
        if _BEGIN.match(sql_text):
            self._open.add(conn)
        elif _END.match(sql_text):
            self._open.discard(conn)

    def in_transaction(self, conn: Any) -> bool:
        return conn in self._open or bool(getattr(conn, "_in_transaction", False))

    def reap(self) -> list[str]:
        """End every session idle inside a transaction for longer than the timeout; their tokens."""
        now = self.clock()
        ended = []
        with self._lock:
            for token, conn in list(self.sessions.items()):
                idle = now - self._last_seen.get(token, now)
                if token in self._in_flight or idle <= self.idle_timeout_s or not self.in_transaction(conn):
                    continue
                del self.sessions[token]  # under the lock: a request of this session cannot start now
                self._last_seen.pop(token, None)
                ended.append((token, conn, idle))
        for token, conn, idle in ended:
            log.warning("ending a session idle for %.0f s inside a transaction (its client is gone): rolled back", idle)
            end_session(conn)
            self._open.discard(conn)
        return [token for token, _, _ in ended]

    def forget(self, token: str) -> None:
        with self._lock:
            self._last_seen.pop(token, None)

    def run(self, stop: threading.Event, interval_s: float = REAP_INTERVAL_S) -> None:
        while not stop.wait(interval_s):
            try:
                self.reap()
            except Exception:  # never let the reaper die: the next round tries again
                log.exception("session reaper failed")


def end_session(conn: Any) -> None:
    """Roll back the session's open transaction (if any) and close it."""
    try:
        conn.rollback()
    except Exception as exc:
        log.warning("rollback of an ended session failed: %s", exc)
    try:
        conn.close()
    except Exception as exc:
        log.warning("closing an ended session failed: %s", exc)


def session_token(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            match = _TOKEN.search(value.decode("latin-1"))
            return match.group(1) if match else None
    return None


class TrackRequests:
    """ASGI middleware: tells the :class:`SessionWatch` when each session's requests run."""

    def __init__(self, app: Any, watch: SessionWatch) -> None:
        self.app = app
        self.watch = watch

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        token = session_token(scope.get("headers", [])) if scope["type"] == "http" else None
        if token is None:
            await self.app(scope, receive, send)
            return
        self.watch.request_started(token)
        try:
            await self.app(scope, receive, send)
        finally:
            self.watch.request_finished(token)


def build_app(watch: SessionWatch) -> Any:
    """fakesnow's routes, with a session close that rolls back, behind :class:`TrackRequests`."""
    import fakesnow.server
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def close_session(request: Request) -> JSONResponse:
        token = session_token(request.headers.raw)
        if token is not None and request.query_params.get("delete"):
            conn = watch.sessions.pop(token, None)
            watch.forget(token)
            if conn is not None:
                await run_in_threadpool(end_session, conn)
            return JSONResponse({"data": None, "code": None, "message": None, "success": True})
        return await fakesnow.server.session(request)

    async def login(request: Request) -> Response:
        response = await fakesnow.server.login_request(request)
        body = json.loads(bytes(response.body))
        if body.get("success") and body.get("data", {}).get("token"):
            # the connector closes a session (POST /session?delete=true) only when login gave it a
            # master token, which fakesnow does not; without it a closed session stays open
            body["data"].setdefault("masterToken", body["data"]["token"])
        return JSONResponse(body, status_code=response.status_code)

    ours = {"/session/v1/login-request": Route("/session/v1/login-request", login, methods=["POST"]),
            "/session": Route("/session", close_session, methods=["POST"])}
    routes = list(ours.values()) + [r for r in fakesnow.server.routes if getattr(r, "path", None) not in ours]
    return TrackRequests(Starlette(routes=routes), watch)


def report_write_conflicts(watch: SessionWatch | None = None) -> None:
    """Make fakesnow's cursor answer DuckDB's write-write conflicts as Snowflake's lock error
    (and tell ``watch`` about transaction statements). Idempotent."""
    import duckdb
    import snowflake.connector.errors
    from fakesnow.cursor import FakeSnowflakeCursor

    original = getattr(FakeSnowflakeCursor.execute, "__wrapped__", FakeSnowflakeCursor.execute)

    @functools.wraps(original)
    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = original(self, command, *args, **kwargs)
        except duckdb.TransactionException as exc:
            if "conflict" not in str(exc).lower():
                raise
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"another transaction is changing the same rows; this statement was aborted ({exc})",
                errno=LOCK_CONFLICT_ERRNO,
                sqlstate=LOCK_CONFLICT_SQLSTATE,
            ) from None
        if watch is not None:
            watch.statement_ran(self._conn, command)  # noqa: SLF001 (fakesnow's own connection)
        return result

    FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]


# ------------------------------------------------------------------------------- databases


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


def serve(
    db_dir: Path, host: str, port: int, log_level: str = "warning",
    idle_transaction_timeout_s: float = IDLE_TRANSACTION_TIMEOUT_S,
) -> None:
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

    watch = SessionWatch(fakesnow.server.sessions, idle_transaction_timeout_s)
    report_write_conflicts(watch)
    stop = threading.Event()
    threading.Thread(target=watch.run, args=(stop,), name="session-reaper", daemon=True).start()

    config = uvicorn.Config(build_app(watch), host=host, port=port, log_level=log_level, access_log=False)
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises the signal; turn that into
    # SystemExit so the checkpoint below still runs instead of the process dying mid-way.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run()
    finally:
        stop.set()
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
        prog="python -m metricdag_localstack.snowflake_server",
        description="Serve a persistent local Snowflake (fakesnow over DuckDB files) on loopback.",
    )
    parser.add_argument("--db-dir", required=True, type=Path, help="folder holding one <DATABASE>.db file per database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--idle-transaction-timeout", type=float, default=IDLE_TRANSACTION_TIMEOUT_S, metavar="SECONDS",
        help="end a session idle this long inside an open transaction, rolling it back "
        f"(default {IDLE_TRANSACTION_TIMEOUT_S:.0f})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = arg_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.db_dir.resolve(), args.host, args.port, args.log_level, args.idle_transaction_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
