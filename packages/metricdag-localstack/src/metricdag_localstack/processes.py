"""Process helpers for the local stack: ports, background services, process groups.

Each service runs in its own process group (``start_new_session=True``) so that stopping it
also stops whatever it spawned (uvicorn workers, Dagster's daemon and code servers), and its
output goes to a log file whose last lines are quoted when it fails to come up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from metricdag.errors import MetricdagError

TAIL_LINES = 20


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start_process(
    name: str, argv: Sequence[str], log_path: Path | str, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start ``argv`` in a new process group, appending its stdout and stderr to ``log_path``.

    ``env`` replaces the environment when given (pass ``{**os.environ, ...}`` to extend it).
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        log.write(f"--- {stamp} starting {name}: {' '.join(argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )


def tail(log_path: Path | str | None, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    if log_path is None:
        return ""
    try:
        text = Path(log_path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _with_log(message: str, log_path: Path | str | None) -> str:
    last = tail(log_path)
    if not last:
        return message
    return f"{message}\nlast lines of {log_path}:\n{last}"


def wait_for_port(
    host: str,
    port: int,
    timeout_s: float,
    proc: subprocess.Popen | None = None,
    log_path: Path | str | None = None,
    *,
    name: str | None = None,
) -> None:
    """Return once ``host:port`` accepts connections.

    Raises :class:`MetricdagError` quoting the end of ``log_path`` when ``proc`` exits first or
    ``timeout_s`` passes.
    """
    what = name or (f"process {proc.pid}" if proc is not None else "the service")
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise MetricdagError(
                _with_log(f"{what} exited with code {proc.returncode} before listening on {host}:{port}", log_path)
            )
        if port_in_use(host, port):
            return
        if time.monotonic() >= deadline:
            raise MetricdagError(_with_log(f"{what} did not listen on {host}:{port} within {timeout_s:g} s", log_path))
        time.sleep(0.1)


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (an exited, not yet reaped child counts as gone)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # members may be zombies whose parent (outside our reach) has not reaped them yet
    return any(
        not _is_zombie(int(p.name))
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _pgid_of(int(p.name)) == pgid
    )


def _pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def stop_process_group(pid: int, timeout_s: float = 10) -> bool:
    """Stop the process group led by ``pid`` (a process started by :func:`start_process`).

    Sends SIGTERM to the group, waits up to ``timeout_s``, then SIGKILLs what is left.
    Returns True when the group stopped on SIGTERM, False when it had to be killed.
    """
    if pid == os.getpgrp():
        raise MetricdagError(f"process group {pid} is this process's own group; refusing to stop it")
    pgid = _pgid_of(pid)
    if pgid is not None and pgid != pid:
        raise MetricdagError(f"process {pid} does not lead its own process group; refusing to signal group {pgid}")
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        _reap(pid)
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    kill_deadline = time.monotonic() + 5
    while _group_alive(pid) and time.monotonic() < kill_deadline:
        time.sleep(0.05)
    return False
