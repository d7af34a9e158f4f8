"""`metricdag new metric NAME` as a user runs it: the scaffolded metric validates, is its own
code location in the dg workspace, runs through every layer on the local stack and its node's
tests pass at once; a bad name is a clear error and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from metricdag.cli import main
from metricdag_localstack.seed import sample_days
from metricdag.settings import cached_environment
from metricdag.workspace import out_of_date
from tests.conftest import copy_project

NAME = "store_lines"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the project with its dg workspace, as METRICDAG_HOME."""
    root = copy_project(tmp_path / "project")
    monkeypatch.setenv("METRICDAG_HOME", str(root))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    cached_environment.cache_clear()
    assert main(["workspace"]) == 0
    yield root
    cached_environment.cache_clear()


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_scaffolded_metric_validates_and_is_its_own_location(project, capsys):
    events_before = (project / "pipeline-configs" / "events.yaml").read_text()

    assert main(["new", "metric", NAME]) == 0

    out = capsys.readouterr().out
    node = project / "metrics" / NAME / "metric_calculation" / NAME
    for path in ("metric.yaml", "definitions.py", "dg.toml"):
        assert (project / "metrics" / NAME / path).is_file()
        assert f"wrote metrics/{NAME}/{path}" in out
    for path in ("src/store_lines.py", "README.md", "tests/test_config.yaml", "tests/bdd/store_lines.feature"):
        assert (node / path).is_file(), path
    assert (node / "tests" / "run_tests.sh").stat().st_mode & 0o111  # executable, as the other nodes' scripts
    assert f"- name: {NAME}\n" in (project / "pipeline-configs" / "catalog" / f"{NAME}.yaml").read_text()
    events = (project / "pipeline-configs" / "events.yaml").read_text()
    assert events == events_before.replace(
        "    - {metric: daily_net_sales, select: pos_transactions, downstream: true}\n",
        "    - {metric: daily_net_sales, select: pos_transactions, downstream: true}\n"
        f"    - {{metric: {NAME}, select: pos_transactions, downstream: true}}\n",
    )  # one line added, the rest of the file as it was
    assert f'{{ path = "metrics/{NAME}" }}' in (project / "dg.toml").read_text() and out_of_date(project) == []

    assert main(["validate"]) == 0  # the metric, the catalog, events.yaml and alerting.yaml
    assert f"ok  {project / 'metrics' / NAME}: {NAME} (1 sources, 1 nodes)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("StoreLines", "metric name 'StoreLines' is not snake_case"),
        ("store-lines", "metric name 'store-lines' is not snake_case"),
        ("store__lines", "is not snake_case"),
        ("daily_net_sales", "metric 'daily_net_sales' already exists"),
        ("pos_transactions", "a catalog dataset named 'pos_transactions' already exists"),
    ],
)
def test_a_bad_name_is_a_clear_error_and_writes_nothing(project, capsys, name, message):
    before = tree(project)

    assert main(["new", "metric", name]) == 1

    assert message in capsys.readouterr().err
    assert tree(project) == before


@pytest.mark.stack
def test_the_scaffolded_metric_runs_on_the_local_stack_and_its_node_tests_pass(seeded_env, project, capsys):
    assert main(["new", "metric", NAME]) == 0
    day = sample_days(seeded_env)[-1].isoformat()
    capsys.readouterr()

    assert main(["run", "--metric", NAME, "--date", day]) == 0  # seeds the new catalog entry too

    out = capsys.readouterr().out
    assert "all metrics succeeded" in out
    assert f"| {NAME} " in out and f"{NAME}/persisted/{NAME}" in out
    assert main(["sql", f"select count(*) as n from METRICS.{NAME.upper()} where business_date = '{day}'", "--format", "csv"]) == 0
    rows = int(capsys.readouterr().out.splitlines()[1])
    assert rows > 0

    node = project / "metrics" / NAME / "metric_calculation" / NAME
    assert main(["snapshot", "bootstrap", str(node)]) == 0
    assert main(["test-node", str(node)]) == 0  # the snapshot test and the BDD scenario
    assert f"{NAME}: PASS" in capsys.readouterr().out
