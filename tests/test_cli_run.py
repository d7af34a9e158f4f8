"""`metricdag run` and `metricdag sql` as a user runs them, against the seeded local stack: a
failed step's row says why, one progress line per step instead of Dagster's DEBUG log, runs land
in the project's Dagster instance, a broken metric fails alone, query values print unrounded."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from metricdag.cli import main
from metricdag.settings import cached_environment
from metricdag_localstack.seed import sample_days
from tests.conftest import copy_project

pytestmark = pytest.mark.stack

NO_DATA_DAY = "2024-05-15"  # before the seeded days: nothing of daily_net_sales exists for it


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the project (no retries: a failure is final at once), as METRICDAG_HOME, with
    DAGSTER_HOME unset as in a plain shell."""
    root = copy_project(tmp_path / "project")
    for yaml_path in root.glob("metrics/*/metric.yaml"):
        yaml_path.write_text(yaml_path.read_text().replace("retry_policy: default", "retry_policy: none"))
    monkeypatch.setenv("METRICDAG_HOME", str(root))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    cached_environment.cache_clear()
    yield root
    cached_environment.cache_clear()  # later tests resolve their own environment


def inventory_for(env, day: str) -> None:
    """The day's inventory snapshot (a copy of a seeded day's), so only the upstream metric is missing."""
    folder = env.path(env.localstack.state_dir) / "objectstore" / "sample" / "inventory" / "inventory_snapshots"
    source = folder / sample_days(env)[0].strftime("%Y/%m/%d")
    target = folder / day.replace("-", "/")
    if not target.exists():
        shutil.copytree(source, target)


def test_a_missing_upstream_partition_is_the_failed_rows_cause(seeded_env, project, capsys, tmp_path, monkeypatch):
    inventory_for(seeded_env, NO_DATA_DAY)
    monkeypatch.chdir(tmp_path)  # run from another folder: the instance is still the project's

    code = main(["run", "--metric", "inventory_turnover", "--no-seed", "--date", NO_DATA_DAY])

    out, err = capsys.readouterr()
    assert code == 1
    cause = f"daily_net_sales/review/product_sales_daily has no data for partition {NO_DATA_DAY}"
    row = next(line for line in out.splitlines() if "inventory_turnover__turnover" in line and line.startswith("|"))
    assert "failed: " in row and cause in row  # the summary says why, not just "failed"
    progress = [line for line in out.splitlines() if line.startswith("  ")]
    assert any(line.startswith("  ok      inventory_turnover__sourcing__inventory_snapshots") for line in progress)
    assert any(line.startswith("  failed  inventory_turnover__turnover") and cause in line for line in progress)
    assert "DEBUG" not in out + err and "STEP_START" not in out + err  # no Dagster console log

    runs = dg.DagsterInstance.get().get_runs()  # the CLI used the project's instance (DAGSTER_HOME unset)
    assert [r.tags.get("dagster/partition") for r in runs] == [NO_DATA_DAY]
    assert Path(dg.DagsterInstance.get().root_directory).resolve() == project / ".dagster"
    assert (project / ".dagster" / "history" / "runs.db").is_file() and not (tmp_path / ".dagster").exists()

    assert main(["audit", "--metric", "inventory_turnover", "--date", NO_DATA_DAY]) == 0
    audit = [line.split() for line in capsys.readouterr().out.splitlines() if runs[0].run_id in line]
    assert [(a[1], a[4]) for a in audit if a[1] == "run"] == [("run", "started"), ("run", "failed")]  # the run is audited
    assert any(a[1] == "open" for a in audit)  # and its failure opened an alert episode


def test_a_broken_metric_fails_alone_and_the_others_run(seeded_env, project, capsys):
    broken = project / "metrics" / "inventory_turnover" / "metric.yaml"
    broken.write_text(broken.read_text() + "\nnot_a_field: 1\n")
    day = sample_days(seeded_env)[-1].isoformat()

    code = main(["run", "--date", day])  # seeding too loads every metric

    out = capsys.readouterr().out
    assert code == 1
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    turnover = [r for r in rows if r.startswith("| inventory_turnover")]
    assert len(turnover) == 1 and "failed: " in turnover[0] and f"{broken}:" in turnover[0] and "not_a_field" in turnover[0]
    sales = [r for r in rows if r.startswith("| daily_net_sales")]
    assert sales and all(r.rstrip(" |").endswith(("ok", "passed")) for r in sales)
    assert "daily_net_sales/persisted/net_sales_daily" in out


def test_sql_prints_values_as_they_are_in_every_format(seeded_env, capsys):
    query = "select 0.040071923966 as return_rate, 3893 as units, 'a,b' as label"

    assert main(["sql", query]) == 0
    table = capsys.readouterr().out
    assert "0.040071923966" in table and "3893" in table and "3893.00" not in table and "(1 row)" in table

    assert main(["sql", query, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["RETURN_RATE,UNITS,LABEL", '0.040071923966,3893,"a,b"']

    assert main(["sql", query, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"RETURN_RATE": 0.040071923966, "UNITS": 3893, "LABEL": "a,b"}]
