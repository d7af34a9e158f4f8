"""Helpers shared by the tests of JVM nodes."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest


def session_jvm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compile cache for the whole session (the same folder from every conftest that asks)."""
    path = tmp_path_factory.getbasetemp() / "jvm-cache"
    path.mkdir(exist_ok=True)
    return path


class LineCollector(logging.Handler):
    """Keeps every message logged to ``logger``; ``on_line`` callbacks see each one as it arrives."""

    def __init__(self, logger: logging.Logger):
        super().__init__(level=logging.DEBUG)
        self.logger = logger
        self.records: list[logging.LogRecord] = []
        self.callbacks: list[Callable[[str], None]] = []
        self._lock = threading.Lock()
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)
        for callback in self.callbacks:
            callback(record.getMessage())

    @property
    def messages(self) -> list[str]:
        with self._lock:
            return [r.getMessage() for r in self.records]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
