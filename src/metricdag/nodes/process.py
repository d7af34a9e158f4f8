"""Run a child process in its own process group, stream its output lines, stop it at a deadline.

Each output stream is read line by line by its own thread and handed to a callback while the
process runs (the JVM runner sends them to the Dagster log). On timeout, or when the caller is
interrupted, the whole process group gets SIGTERM, then SIGKILL after a grace period, so the
program and anything it started are gone before this returns.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LineSink = Callable[[str], None]

MAX_LINE_BYTES = 64 * 1024  # a longer line is passed on in pieces


@dataclass(frozen=True)
class Finished:
    """How a child process ended."""

    returncode: int | None  # None when it was killed at the deadline
    timed_out: bool
    seconds: float
    stderr_tail: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0


def run_streaming(
    argv: Sequence[str],
    *,
    cwd: Path,
    on_stdout: LineSink,
    on_stderr: LineSink,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
    tail_lines: int = 20,
    grace_s: float = 3.0,
) -> Finished:
    """Run ``argv`` to completion (or to ``timeout_s``), passing each output line to a sink."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: killed as one
    )
    tail: deque[str] = deque(maxlen=tail_lines)
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, on_stdout, None), daemon=True, name=f"stdout-{proc.pid}"),
        threading.Thread(target=_pump, args=(proc.stderr, on_stderr, tail), daemon=True, name=f"stderr-{proc.pid}"),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop_group(proc, grace_s)
    except BaseException:  # interrupted (Ctrl-C, run termination): leave nothing behind
        stop_group(proc, grace_s)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=grace_s)  # a grandchild outside the group could hold a pipe open
    return Finished(
        returncode=None if timed_out else proc.returncode,
        timed_out=timed_out,
        seconds=time.monotonic() - started,
        stderr_tail=tuple(tail),
    )


def stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the process group of ``proc``; SIGKILL it if the leader has not exited after ``grace_s``."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc.pid, signal.SIGKILL)  # also whatever the leader started and left running
    proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _pump(stream: IO[bytes] | None, sink: LineSink, tail: deque[str] | None) -> None:
    if stream is None:
        return
    with stream:
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if tail is not None:
                tail.append(line)
            try:
                sink(line)
            except Exception:  # a failing log handler must not stop the draining (the child would block)
                pass
