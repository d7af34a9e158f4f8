"""The local stack's lifecycle as a user meets it."""

from __future__ import annotations

import socket

import pytest

from metricdag.localstack import stack
from metricdag.localstack.processes import free_port
from metricdag.settings import load_environment
from tests.conftest import PROJECT_ROOT


def test_status_reports_both_services_running(stack_env):
    rows = {r["service"]: r for r in stack.status(stack_env)}
    assert set(rows) == {"snowflake", "catalog"}
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
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", str(free_port()))
    env = load_environment("local", PROJECT_ROOT)
    try:
        with pytest.raises(stack.StackError, match=f"port {port} on 127.0.0.1 is already in use"):
            stack.up(env)
        assert stack.status(env) == []  # nothing half-started
    finally:
        taken.close()
