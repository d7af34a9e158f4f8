"""Process helpers of the local stack, with real processes and sockets."""

from __future__ import annotations

import re
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

from metricdag.errors import MetricdagError
from metricdag_localstack.processes import (
    free_port,
    pid_alive,
    port_in_use,
    start_process,
    stop_process_group,
    wait_for_port,
)

HOST = "127.0.0.1"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_port_in_use_sees_a_listener_come_and_go():
    port = free_port(HOST)
    assert not port_in_use(HOST, port)

    with socket.socket() as listener:
        listener.bind((HOST, port))
        listener.listen()
        assert port_in_use(HOST, port)

    assert not port_in_use(HOST, port)


def test_a_process_that_exits_at_once_gives_a_clear_error_with_its_last_log_lines(tmp_path: Path):
    log = tmp_path / "svc.log"
    proc = start_process(
        "broken",
        python("""
            import sys
            print("reading config", flush=True)
            print("error: unknown option --colour", file=sys.stderr)
            sys.exit(3)
        """),
        log,
    )

    started = time.monotonic()
    with pytest.raises(MetricdagError) as caught:
        wait_for_port(HOST, free_port(HOST), timeout_s=30, proc=proc, log_path=log, name="catalog service")

    message = str(caught.value)
    assert time.monotonic() - started < 10  # noticed the exit, did not sit out the timeout
    assert "catalog service exited with code 3" in message
    assert "error: unknown option --colour" in message and "reading config" in message


def test_waiting_gives_up_after_the_timeout_and_says_so(tmp_path: Path):
    log = tmp_path / "svc.log"
    proc = start_process("sleepy", python("import time; print('warming up', flush=True); time.sleep(60)"), log)
    try:
        port = free_port(HOST)
        with pytest.raises(MetricdagError, match=rf"did not listen on {HOST}:{port} within 1 s(.|\n)*warming up"):
            wait_for_port(HOST, port, timeout_s=1, proc=proc, log_path=log)
    finally:
        stop_process_group(proc.pid)


def test_waiting_returns_once_the_service_listens(tmp_path: Path):
    port = free_port(HOST)
    proc = start_process(
        "listener",
        python(f"""
            import socket, time
            time.sleep(0.3)
            s = socket.socket(); s.bind(("{HOST}", {port})); s.listen(); time.sleep(60)
        """),
        tmp_path / "svc.log",
    )
    try:
        wait_for_port(HOST, port, timeout_s=20, proc=proc)
        assert port_in_use(HOST, port)
    finally:
        stop_process_group(proc.pid)


def test_stopping_a_group_stops_the_children_too_and_kills_what_ignores_sigterm(tmp_path: Path):
    log = tmp_path / "svc.log"
    proc = start_process(
        "stubborn",
        python("""
            import signal, subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            print("CHILD-PID", child.pid, flush=True)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(60)
        """),
        log,
    )
    deadline = time.monotonic() + 20
    while not (found := re.search(r"^CHILD-PID (\d+)$", log.read_text(), re.M)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found, log.read_text()
    child_pid = int(found.group(1))
    assert pid_alive(proc.pid) and pid_alive(child_pid)

    graceful = stop_process_group(proc.pid, timeout_s=1)

    assert graceful is False  # the parent ignored SIGTERM and had to be killed
    assert not pid_alive(proc.pid) and not pid_alive(child_pid)


def test_a_well_behaved_service_stops_on_sigterm(tmp_path: Path):
    proc = start_process("sleeper", python("import time; time.sleep(60)"), tmp_path / "svc.log")
    assert pid_alive(proc.pid)

    assert stop_process_group(proc.pid, timeout_s=10) is True
    assert not pid_alive(proc.pid)
    assert stop_process_group(proc.pid) is True  # already gone: nothing to do, no error


def test_the_log_is_appended_across_starts(tmp_path: Path):
    log = tmp_path / "logs" / "svc.log"
    for word in ("first", "second"):
        start_process("echo", python(f"print('{word} run')"), log).wait(timeout=20)

    text = log.read_text()
    assert text.index("first run") < text.index("second run")
    assert text.count("starting echo") == 2


def test_an_environment_can_be_passed_to_the_process(tmp_path: Path):
    log = tmp_path / "svc.log"
    env = {"PATH": "/usr/bin:/bin", "METRICDAG_PROBE": "from-env"}
    start_process("env", python("import os; print(os.environ['METRICDAG_PROBE'])"), log, env=env).wait(timeout=20)

    assert "from-env" in log.read_text()


def test_stopping_refuses_a_process_that_does_not_lead_its_own_group():
    import subprocess

    plain = subprocess.Popen(python("import time; time.sleep(60)"))  # shares the test's group
    try:
        with pytest.raises(MetricdagError, match="does not lead its own process group"):
            stop_process_group(plain.pid)
        assert pid_alive(plain.pid)
    finally:
        plain.kill()
        plain.wait()


def test_stopping_refuses_the_callers_own_group():
    import os

    with pytest.raises(MetricdagError, match="own group"):
        stop_process_group(os.getpgrp())
