"""Fixtures for the metrics' node tests: the JVM compile cache shared by the whole test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jvm_support import session_jvm_cache


@pytest.fixture(scope="session")
def jvm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_jvm_cache(tmp_path_factory)
