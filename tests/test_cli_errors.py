"""The CLI without the local stack: a partly running stack is named and left alone, expected
operational errors are one `error:` line (no traceback), `dev` takes its port from DAGSTER_PORT."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricdag.cli import main
from metricdag.settings import cached_environment
from metricdag_localstack.cli import _dagster_port
from metricdag_localstack.processes import free_port, pid_alive, start_process, stop_process_group, wait_for_port


@pytest.fixture
def local_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local environment whose state lives in tmp_path (no stack of this session is touched)."""
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("METRICDAG_ENV", "local")
    cached_environment.cache_clear()  # commands resolve this environment, not one cached earlier
    yield tmp_path
    cached_environment.cache_clear()


def test_a_partly_running_stack_is_named_and_not_restarted(local_dir, capsys):
    port, dead_port = free_port(), free_port()
    alive = start_process("catalog", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                          local_dir / "logs" / "catalog.log")
    gone = start_process("snowflake", [sys.executable, "-c", "pass"], local_dir / "logs" / "snowflake.log")
    gone.wait(timeout=30)
    try:
        wait_for_port("127.0.0.1", port, 30, alive)
        services = [
            {"name": "snowflake", "pid": gone.pid, "host": "127.0.0.1", "port": dead_port, "log": "sf.log"},
            {"name": "catalog", "pid": alive.pid, "host": "127.0.0.1", "port": port, "log": "catalog.log"},
        ]
        (local_dir / "stack.json").write_text(json.dumps({"environment": "local", "services": services}))

        assert main(["run", "--no-seed"]) == 1
        err = capsys.readouterr().err
        assert "error: the local stack is only partly running: snowflake (127.0.0.1:" in err
        assert "metricdag stack down && metricdag stack up" in err
        assert main(["stack", "up"]) == 1  # `stack up` does not restart it under a user either
        assert "snowflake" in capsys.readouterr().err
        assert pid_alive(alive.pid)  # the running service was left alone
        assert json.loads((local_dir / "stack.json").read_text())["services"] == services
    finally:
        stop_process_group(alive.pid)
        alive.wait(timeout=10)


def test_a_broken_storage_is_an_error_line_not_a_traceback(local_dir, capsys):
    (local_dir / "audit.db").write_bytes(b"this is not a database" * 100)

    assert main(["audit"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: the Dagster or audit storage failed: ")
    assert "file is not a database" in err
    assert "Traceback" not in err


def test_the_traceback_is_there_on_request(local_dir, monkeypatch):
    (local_dir / "audit.db").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("METRICDAG_TRACEBACK", "1")

    with pytest.raises(Exception, match="file is not a database"):
        main(["audit"])


def test_an_unreachable_snowflake_is_an_error_line(local_dir, monkeypatch, capsys):
    monkeypatch.setenv("METRICDAG_SNOWFLAKE_PORT", str(free_port()))  # nobody listens there
    monkeypatch.setenv("METRICDAG_SNOWFLAKE_PASSWORD", "test-only")

    assert main(["sql", "select 1"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_dev_takes_its_port_from_dagster_port(monkeypatch):
    monkeypatch.setenv("DAGSTER_PORT", "9316")
    assert _dagster_port() == 9316
    monkeypatch.delenv("DAGSTER_PORT")
    assert _dagster_port() == 3000
