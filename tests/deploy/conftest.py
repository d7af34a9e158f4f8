from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.deploy.postgres import MISSING, Postgres, postgres_bin, running_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL on a free loopback port. Missing binaries: skipped on a workstation, a
    failure under CI (`CI` set), where `make test` must have installed them."""
    bindir = postgres_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING, pytrace=False)
        pytest.skip(MISSING)
    with running_postgres(bindir) as server:
        yield server
