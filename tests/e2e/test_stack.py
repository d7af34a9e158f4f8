"""The local stack's lifecycle as a user meets it."""

from __future__ import annotations

import socket

import pytest

from metricdag.settings import load_environment
from metricdag_localstack import stack
from metricdag_localstack.processes import free_port
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.stack  # every test here needs the local stack


def test_status_reports_every_service_running(stack_env):
    rows = {r["service"]: r for r in stack.status(stack_env)}
    assert set(rows) == {"token", "snowflake", "catalog", "legend", "smtp", "pagerduty"}
    assert all(r["status"] == "running" for r in rows.values())
    assert stack.up(stack_env)  # already up: returns the running services, starts nothing new
    assert {r["pid"] for r in stack.status(stack_env)} == {r["pid"] for r in rows.values()}


def test_a_taken_port_is_a_clear_error(tmp_path, monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("METRICDAG_SNOWFLAKE_PORT", str(port))
    for other in ("METRICDAG_CATALOG_PORT", "METRICDAG_TOKEN_PORT", "METRICDAG_LEGEND_PORT"):
        monkeypatch.setenv(other, str(free_port()))
    env = load_environment("local", PROJECT_ROOT)
    try:
        with pytest.raises(stack.StackError, match=f"port {port} on 127.0.0.1 is already in use.*METRICDAG_SNOWFLAKE_PORT"):
            stack.up(env)
        assert stack.status(env) == []  # nothing half-started
    finally:
        taken.close()
