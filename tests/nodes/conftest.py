"""Fixtures for node-runner tests: one JVM compile cache per test session (scalac is slow)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tests.jvm_support import LineCollector, session_jvm_cache


@pytest.fixture(scope="session")
def jvm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_jvm_cache(tmp_path_factory)


@pytest.fixture()
def collected() -> LineCollector:
    """A logger whose records are kept (what a NodeContext sends to the Dagster log)."""
    return LineCollector(logging.getLogger(f"test.node.{uuid.uuid4().hex[:8]}"))
