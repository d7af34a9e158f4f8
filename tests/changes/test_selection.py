"""Which metrics a branch changes: versions at the merge base against the working tree (temp git repos)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from metricdag.changes.selection import changed_metrics
from metricdag.cli import main
from metricdag.errors import MetricdagError
from tests.conftest import copy_project


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, str]:
    root = copy_project(tmp_path / "repo", ["daily_net_sales", "inventory_turnover"])
    git(root, "init", "-q")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return root, git(root, "rev-parse", "HEAD")


def test_nothing_changed_selects_nothing(repo) -> None:
    root, base = repo
    assert changed_metrics(root, base) == []


def test_a_node_change_selects_its_metric_only(repo) -> None:
    root, base = repo
    node = root / "metrics" / "daily_net_sales" / "metric_calculation" / "net_sales" / "src" / "net_sales.py"
    node.write_text(node.read_text() + "\n# rounding changes below\nROUND = 2\n")
    changes = changed_metrics(root, base)
    assert [c.metric for c in changes] == ["daily_net_sales"]
    assert changes[0].base is not None and changes[0].base != changes[0].head


def test_comments_owner_and_a_change_declaration_select_nothing(repo) -> None:
    root, base = repo
    path = root / "metrics" / "daily_net_sales" / "metric.yaml"
    text = path.read_text().replace("owner: sales-analytics@example.com", "owner: other-team@example.com")
    path.write_text("# a new comment\n" + text + '\nchange:\n  expect:\n    net_sales_usd: {rel: "+10%"}\n')
    assert changed_metrics(root, base) == []


def test_a_committed_change_counts_against_the_base_commit(repo) -> None:
    root, base = repo
    path = root / "metrics" / "inventory_turnover" / "metric.yaml"
    path.write_text(path.read_text().replace("severity: error", "severity: warn", 1))
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "turnover check reports only")
    assert [c.metric for c in changed_metrics(root, base)] == ["inventory_turnover"]
    assert changed_metrics(root, git(root, "rev-parse", "HEAD")) == []


def test_a_new_metric_is_selected_as_new(repo) -> None:
    root, base = repo
    new = root / "metrics" / "copy_of_sales"
    (root / "metrics" / "daily_net_sales").rename(new)
    (new / "metric.yaml").write_text((new / "metric.yaml").read_text().replace("name: daily_net_sales", "name: copy_of_sales"))
    changes = {c.metric: c for c in changed_metrics(root, base)}
    assert changes["copy_of_sales"].is_new


def test_an_unknown_base_is_a_clear_error(repo) -> None:
    root, _ = repo
    with pytest.raises(MetricdagError, match="git .*no-such-ref"):
        changed_metrics(root, "no-such-ref")


def test_diff_changed_since_with_nothing_changed_says_so(repo, monkeypatch, capsys) -> None:
    root, base = repo
    monkeypatch.setenv("METRICDAG_HOME", str(root))
    assert main(["diff", "--changed-since", base, "--to", "2024-06-03"]) == 0
    assert f"no metric's version changed since {base}" in capsys.readouterr().out
