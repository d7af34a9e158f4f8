"""run_streaming(): lines arrive while the child runs, the deadline kills the whole group."""

from __future__ import annotations

import sys
import time

from metricdag.nodes.process import run_streaming
from tests.jvm_support import pid_alive

PY = sys.executable


def test_lines_arrive_in_order_and_the_exit_code_is_kept(tmp_path):
    out, err = [], []
    script = "import sys\nfor i in range(3):\n    print('out', i, flush=True)\n    print('err', i, file=sys.stderr, flush=True)\nsys.exit(4)"

    finished = run_streaming([PY, "-c", script], cwd=tmp_path, on_stdout=out.append, on_stderr=err.append)

    assert out == ["out 0", "out 1", "out 2"] and err == ["err 0", "err 1", "err 2"]
    assert finished.returncode == 4 and not finished.timed_out and not finished.ok
    assert finished.stderr_tail == ("err 0", "err 1", "err 2")


def test_stderr_tail_keeps_the_last_lines_only(tmp_path):
    script = "import sys\nfor i in range(50):\n    print('line', i, file=sys.stderr)"

    finished = run_streaming([PY, "-c", script], cwd=tmp_path, on_stdout=print, on_stderr=lambda _: None, tail_lines=5)

    assert finished.ok
    assert finished.stderr_tail == tuple(f"line {i}" for i in range(45, 50))


def test_a_line_is_delivered_before_the_process_ends(tmp_path):
    """The child waits for a file that is only created once its first line has been delivered."""
    go = tmp_path / "go"
    script = f"import os, time\nprint('ready', flush=True)\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.02)\nprint('done')"
    seen = []

    def on_stdout(line: str) -> None:
        seen.append(line)
        if line == "ready":
            go.touch()

    finished = run_streaming([PY, "-c", script], cwd=tmp_path, on_stdout=on_stdout, on_stderr=print, timeout_s=20)

    assert finished.ok and seen == ["ready", "done"]


def test_timeout_kills_the_child_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "print('sleeping', flush=True)\n"
        "time.sleep(300)\n"
    )
    started = time.monotonic()

    finished = run_streaming([PY, "-c", script], cwd=tmp_path, on_stdout=print, on_stderr=print, timeout_s=1.5, grace_s=1)

    assert finished.timed_out and finished.returncode is None and not finished.ok
    assert time.monotonic() - started < 10
    parent, child = (int(p) for p in pids.read_text().split())
    assert not pid_alive(parent) and not pid_alive(child)


def test_a_child_that_ignores_sigterm_is_killed(tmp_path):
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('stubborn', flush=True)\ntime.sleep(300)"

    finished = run_streaming([PY, "-c", script], cwd=tmp_path, on_stdout=print, on_stderr=print, timeout_s=1, grace_s=0.5)

    assert finished.timed_out


def test_a_failing_sink_does_not_block_the_child(tmp_path):
    def broken(line: str) -> None:
        raise RuntimeError("log handler down")

    finished = run_streaming(
        [PY, "-c", "for i in range(20000):\n    print('x' * 100)"], cwd=tmp_path, on_stdout=broken, on_stderr=broken, timeout_s=30
    )

    assert finished.ok
