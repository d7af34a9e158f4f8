"""A throw-away PostgreSQL on loopback (Debian's `postgresql` package): ``initdb`` + ``pg_ctl`` in a
temp folder on a free port, stopped and removed afterwards."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from metricdag_localstack.processes import free_port

MISSING = ("PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH): "
           "`make test` installs Debian's postgresql package when run as root (apt-get install postgresql)")


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` with initdb and pg_ctl, else the one on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                   if p.parent.name.isdigit() else 0)
    for candidate in reversed(found):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    db_name: str

    def url(self, db: str | None = None) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{db or self.db_name}"


def _run_as() -> str | None:
    """initdb refuses to run as root: then run the server as the package's `postgres` user."""
    if os.getuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres").pw_name
    except KeyError:
        return "nobody"


@contextmanager
def running_postgres(bindir: Path, db_name: str = "dagster") -> Iterator[Postgres]:
    user = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="metricdag-pg-"))  # not under pytest's 0700 root tmp
    data, log = folder / "data", folder / "server.log"
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    port = free_port()

    def run(*args: str) -> None:
        proc = subprocess.run(args, user=user, capture_output=True, text=True, timeout=120)
        if proc.returncode:
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}{tail}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "metricdag", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        try:
            import psycopg2

            conn = psycopg2.connect(host="127.0.0.1", port=port, user="metricdag", dbname="postgres")
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{db_name}"')
            conn.close()
            yield Postgres("127.0.0.1", port, "metricdag", db_name)
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
