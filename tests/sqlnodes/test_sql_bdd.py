"""The SQL nodes' BDD scenarios (``metrics/*/**/tests/bdd/*.feature`` of nodes whose code is SQL),
with the shared steps: each scenario's tables are loaded into a scratch schema of the local
stack's warehouse and the node's SQL runs there."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd import scenarios

from metricdag_testing.bdd import *  # noqa: F403 - the shared step definitions
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.stack

SQL_BDD_FOLDERS = sorted({p.parent for p in (PROJECT_ROOT / "metrics").glob("*/**/tests/bdd/*.feature")
                          if any((p.parent.parent.parent / "src").glob("*.sql"))})


@pytest.fixture(autouse=True)
def _warehouse(stack_env):
    """The scenarios' SQL runs in the local stack's warehouse."""
    return stack_env


@pytest.fixture()
def jvm_cache(tmp_path: Path) -> Path:  # the shared "When the node runs" step asks for it
    return tmp_path


def test_the_sql_example_nodes_have_scenarios() -> None:
    assert {f.parent.parent.name for f in SQL_BDD_FOLDERS} == {"clean_pos_transactions_sql", "net_sales_sql"}


for _folder in SQL_BDD_FOLDERS:
    scenarios(str(_folder))
