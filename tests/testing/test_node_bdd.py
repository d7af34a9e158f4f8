"""Every node's BDD scenarios (``metrics/*/**/tests/bdd/*.feature``) with the shared steps of
:mod:`metricdag_testing.bdd`. Nodes run in process (JVM nodes through the session's compile cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd import scenarios

from metricdag_testing.bdd import *  # noqa: F403 - the shared step definitions
from tests.conftest import PROJECT_ROOT
from tests.jvm_support import session_jvm_cache

BDD_FOLDERS = sorted({p.parent for p in (PROJECT_ROOT / "metrics").glob("*/**/tests/bdd/*.feature")
                      if not any((p.parent.parent.parent / "src").glob("*.sql"))})  # SQL nodes: tests/sqlnodes/ (stack)


@pytest.fixture(scope="session")
def jvm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return session_jvm_cache(tmp_path_factory)


def test_every_example_node_has_scenarios() -> None:
    assert {f.parent.parent.name for f in BDD_FOLDERS} >= {
        "clean_pos_transactions", "net_sales", "basket_stats", "product_sales", "turnover"
    }


for _folder in BDD_FOLDERS:
    scenarios(str(_folder))
