"""`metricdag validate`: ok per good metric on stdout, ``path:line: message`` per problem on stderr."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metricdag.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "metrics" / "daily_net_sales"


def make_project(root: Path) -> Path:
    """A scratch project holding the retry policies and the local catalog entries (its root is
    what METRICDAG_HOME points at)."""
    (root / "pipeline-configs").mkdir(parents=True)
    shutil.copy(REPO / "pipeline-configs" / "retry-policies.yaml", root / "pipeline-configs" / "retry-policies.yaml")
    shutil.copytree(REPO / "pipeline-configs" / "catalog", root / "pipeline-configs" / "catalog")
    return root


def copy_metric(root: Path, name: str, *replacements: tuple[str, str]) -> Path:
    """metrics/<name>/ = the example, renamed to <name>, with text replacements in metric.yaml."""
    folder = root / "metrics" / name
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    path = folder / "metric.yaml"
    text = path.read_text().replace("name: daily_net_sales", f"name: {name}", 1)
    for old, new in replacements:
        assert text.count(old) == 1, f"test setup: {old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    path.write_text(text)
    return folder


def line_with(path: Path, marker: str) -> int:
    numbers = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if marker in line]
    assert len(numbers) == 1
    return numbers[0]


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    # main() loads ./.env; run from an empty directory so the repo's .env does not leak into os.environ.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


def test_example_metric_is_ok(monkeypatch, capsys):
    monkeypatch.setenv("METRICDAG_HOME", str(REPO))

    code = main(["validate", str(EXAMPLE)])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("ok ")
    assert "daily_net_sales" in out
    assert err == ""


def test_broken_metric_prints_path_line_message_and_exits_1(tmp_path, monkeypatch, capsys):
    root = make_project(tmp_path / "project")
    folder = copy_metric(root, "daily_net_sales", ('"30 6 * * *"', '"30 6 * *"  # broken'))
    path = (folder / "metric.yaml").resolve()
    monkeypatch.setenv("METRICDAG_HOME", str(root))

    code = main(["validate", str(folder)])

    out, err = capsys.readouterr()
    assert code == 1
    assert "ok " not in out
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:{line_with(path, '# broken')}: ")
    assert "cron" in first and "30 6 * *" in first
    assert "1 of 1 metric(s) invalid" in err


def test_retry_policies_come_from_metricdag_home(tmp_path, monkeypatch, capsys):
    """A metric naming a policy that only the METRICDAG_HOME project defines is valid there."""
    root = make_project(tmp_path / "project")
    policies = root / "pipeline-configs" / "retry-policies.yaml"
    policies.write_text(policies.read_text() + "  stubborn:\n    max_retries: 9\n")
    folder = copy_metric(root, "daily_net_sales", ("retry_policy: default", "retry_policy: stubborn"))
    monkeypatch.setenv("METRICDAG_HOME", str(root))

    assert main(["validate", str(folder)]) == 0
    capsys.readouterr()

    monkeypatch.setenv("METRICDAG_HOME", str(REPO))  # the repo's policies do not have 'stubborn'
    assert main(["validate", str(folder)]) == 1
    assert "unknown retry policy 'stubborn'" in capsys.readouterr().err


def test_good_metric_is_still_reported_ok_next_to_a_broken_one(tmp_path, monkeypatch, capsys):
    root = make_project(tmp_path / "project")
    broken = copy_metric(root, "broken_sales", ("timezone: UTC", "timezone: Nowhere/Atlantis  # broken"))
    good = copy_metric(root, "good_sales")
    broken_path = (broken / "metric.yaml").resolve()
    monkeypatch.setenv("METRICDAG_HOME", str(root))

    code = main(["validate", str(broken), str(good)])  # the broken one first

    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("ok ") and "good_sales" in out
    assert "broken_sales" not in out
    assert f"{broken_path}:{line_with(broken_path, '# broken')}: " in err
    assert "Nowhere/Atlantis" in err
    assert "good_sales" not in err
    assert "1 of 2 metric(s) invalid" in err


def test_without_folders_every_metric_of_the_project_is_checked(tmp_path, monkeypatch, capsys):
    root = make_project(tmp_path / "project")
    copy_metric(root, "first_sales")
    copy_metric(root, "second_sales", ("name: second_sales", "name: third_sales"))
    monkeypatch.setenv("METRICDAG_HOME", str(root))

    code = main(["validate"])

    out, err = capsys.readouterr()
    assert code == 1
    assert "first_sales" in out
    assert "'third_sales' must match its folder name 'second_sales'" in err
