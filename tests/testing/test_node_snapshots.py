"""Every node's snapshot test (``metrics/*/**/tests/test_config.yaml``), the same runner as ``metricdag test-node``."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricdag.changes.report import render_text
from metricdag_testing.bootstrap import node_folders
from metricdag_testing.node_test import run_node_test
from tests.conftest import PROJECT_ROOT
from tests.jvm_support import session_jvm_cache

NODE_FOLDERS = node_folders(PROJECT_ROOT)


def test_every_example_node_has_a_snapshot_test() -> None:
    names = {f.name for f in NODE_FOLDERS}
    assert {"clean_pos_transactions", "net_sales", "basket_stats", "product_sales", "turnover"} <= names


@pytest.mark.stack
@pytest.mark.parametrize("folder", NODE_FOLDERS, ids=lambda f: f"{f.relative_to(PROJECT_ROOT / 'metrics')}")
def test_node_snapshot(folder: Path, snapshot_env, tmp_path_factory: pytest.TempPathFactory) -> None:
    result = run_node_test(folder, project_root=PROJECT_ROOT, jvm_cache=session_jvm_cache(tmp_path_factory))
    assert result.passed, render_text(result.report)
    assert result.report.diffs and all(d.match_score == 1.0 for d in result.report.diffs)
    assert result.paths["junit"].is_file()
