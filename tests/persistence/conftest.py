"""One local Snowflake (the fakesnow server module) per test session, on a free port and a
temporary database folder, reached through the ``local`` environment exactly as the stack is."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import pytest

from metricdag.settings import Environment, load_environment
from metricdag_localstack.processes import free_port, start_process, stop_process_group, wait_for_port

HOST = "127.0.0.1"
START_TIMEOUT_S = 60


@dataclass
class LocalSnowflake:
    root: Path
    port: int
    log_path: Path
    password: str
    db_dir: Path = field(default=Path("."))  # from local.yaml's localstack.snowflake_db_dir
    proc: Popen | None = field(default=None, repr=False)

    def environ(self) -> dict[str, str]:
        """The variables that point ``pipeline-configs/environments/local.yaml`` at this server."""
        return {
            "METRICDAG_LOCAL_DIR": str(self.root),
            "METRICDAG_SNOWFLAKE_PORT": str(self.port),
            "METRICDAG_SNOWFLAKE_PASSWORD": self.password,
        }

    def start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "metricdag_localstack.snowflake_server",
            "--db-dir",
            str(self.db_dir),
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]
        self.proc = start_process("snowflake", argv, self.log_path)
        wait_for_port(HOST, self.port, START_TIMEOUT_S, self.proc, self.log_path, name="local snowflake")

    def stop(self) -> bool:
        """True when the server shut down on SIGTERM (False: it had to be killed)."""
        if self.proc is None:
            return True
        graceful = stop_process_group(self.proc.pid)
        self.proc.wait(timeout=5)
        self.proc = None
        return graceful


@pytest.fixture(scope="session")
def local_snowflake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSnowflake]:
    root = tmp_path_factory.mktemp("stack")
    port = free_port(HOST)
    password = "pw-" + secrets.token_hex(12)
    server = LocalSnowflake(root, port, root / "logs" / "snowflake.log", password)
    with pytest.MonkeyPatch.context() as mp:  # only while resolving: other tests see the real environment
        for name, value in server.environ().items():
            mp.setenv(name, value)
        env = load_environment("local")
    assert env.localstack is not None
    server.db_dir = env.path(env.localstack.snowflake_db_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def env(local_snowflake: LocalSnowflake, monkeypatch: pytest.MonkeyPatch) -> Environment:
    """The ``local`` environment, pointed at the session's server for the duration of one test
    (the handler resolves it again by name, so the variables must stay set while it runs)."""
    for name, value in local_snowflake.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("METRICDAG_ENV", raising=False)
    return load_environment("local")


@pytest.fixture
def objectstore_dir(env: Environment) -> Path:
    path = Path(env.object_store_uri[len("file://") :])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def stopped_snowflake(
    local_snowflake: LocalSnowflake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalSnowflake, Environment, Path]]:
    """``(server, environment, object-store folder)``: a local Snowflake of this test's own (the
    session's server keeps running for the others), the ``local`` environment pointed at it;
    the test stops it when it wants Snowflake down."""
    server = LocalSnowflake(tmp_path, free_port(HOST), tmp_path / "logs" / "snowflake.log", local_snowflake.password)
    for name, value in server.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("METRICDAG_ENV", raising=False)
    env = load_environment("local")
    server.db_dir = env.path(env.localstack.snowflake_db_dir)
    folder = Path(env.object_store_uri[len("file://") :])
    folder.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server, env, folder
    finally:
        server.stop()


@pytest.fixture
def objectstore(seeded_env: Environment) -> Path:
    """The seeded stack's local object-store folder."""
    path = Path(seeded_env.object_store_uri[len("file://") :])
    path.mkdir(parents=True, exist_ok=True)
    return path


def qualified(table_name: str) -> str:
    """A test table's fully qualified, quoted name in the local Snowflake."""
    return f'"METRICDAG"."METRICS"."{table_name.upper()}"'
