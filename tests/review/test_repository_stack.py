"""The metrics repository and backtested gates end to end on the local stack.

A throw-away copy of ``daily_net_sales`` named ``gate_probe`` runs sample days in order in an
environment with ``review.require_backtest`` on: every evaluation lands in the repository, the
variance check reads its accepted history from it (the review layer's files of those days are
deleted first), and two blocking checks added later run as warn until they are backtested.
"""

from __future__ import annotations

import os

import dagster as dg
import pytest

from metricdag.cli import main
from metricdag.io.layout import partition_prefix
from metricdag.io.objectstore import store_for
from metricdag.settings import load_environment
from metricdag_localstack.seed import sample_days
from tests.probe_metric import make_probe, run_days

pytestmark = pytest.mark.stack

METRIC = "gate_probe"
TABLE = "METRICS.GATE_PROBE_DAILY"
REVIEW = f"{METRIC}/review/net_sales_daily"
NEW_CHECKS = """      - type: range            # added later: passes on every day
        column: net_sales_usd
        min: 0
        severity: error
      - type: daily_minimum    # added later: an impossible floor, fires on every day
        measure: sum:net_sales_usd
        min: 1000000000000
        severity: error
  - dataset: basket_stats_daily
    checks:
"""


def delete_review_files(env, days) -> None:
    store = store_for(env.object_store_uri, env.object_store.s3_endpoint_url, env.object_store.s3_region)
    for day in days:
        for info in store.list(partition_prefix(env.object_store_uri, env.name, [METRIC, "review", "net_sales_daily"], day.isoformat())):
            store.delete(info.uri)


@pytest.fixture(scope="module")
def gate_project(seeded_env, tmp_path_factory):
    old = os.environ.get("METRICDAG_REQUIRE_BACKTEST")
    os.environ["METRICDAG_REQUIRE_BACKTEST"] = "true"
    try:
        project, folder = make_probe(tmp_path_factory.mktemp("gate"), METRIC, TABLE)
        env = load_environment("local", project)
        assert env.review.require_backtest
        days = sample_days(seeded_env)[:6]
        first = run_days(folder, env, METRIC, days[:3])
        delete_review_files(env, days[:3])  # from now on only the repository knows these days' values
        fourth = run_days(folder, env, METRIC, days[3:4])
        text = (folder / "metric.yaml").read_text()
        (folder / "metric.yaml").write_text(text.replace("  - dataset: basket_stats_daily\n    checks:\n", NEW_CHECKS, 1))
        fifth = run_days(folder, env, METRIC, days[4:5])
        yield {"project": project, "folder": folder, "env": env, "days": days, "runs": {**first, **fourth, **fifth}}
    finally:
        if old is None:
            os.environ.pop("METRICDAG_REQUIRE_BACKTEST", None)
        else:
            os.environ["METRICDAG_REQUIRE_BACKTEST"] = old


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_a_new_metric_blocks_as_declared_and_variance_reads_the_repository(gate_project):
    days, runs = gate_project["days"], gate_project["runs"]
    for day in days[:4]:
        result, evaluations = runs[day]
        assert result.success and REVIEW in materialized(result)
        assert evaluations["record_count"].severity == dg.AssetCheckSeverity.ERROR  # no history: nothing to backtest
    variance = runs[days[3]][1]["variance"]
    assert variance.passed
    assert variance.metadata["history_days"].value == 3  # the review files of these days are gone
    assert variance.metadata["history_from_repository"].value == 3
    assert variance.metadata["history_partitions"].value == ", ".join(d.isoformat() for d in days[:3])


def test_review_history_prints_each_evaluation(gate_project, monkeypatch, capsys):
    monkeypatch.setenv("METRICDAG_HOME", str(gate_project["project"]))
    days = gate_project["days"]
    from metricdag.spec.loader import load_metric
    from metricdag.versioning import metric_version

    code = main(["review", "history", METRIC, "--check", "variance"])

    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("2024-")]
    assert [line.split()[0] for line in lines] == [d.isoformat() for d in days[:5]]
    assert all(" variance " in line and " pass " in line and "within 50% of the average" in line for line in lines)
    version = metric_version(load_metric(gate_project["folder"], gate_project["project"])).version
    assert version[:12] in lines[-1]
    assert main(["review", "history", METRIC, "--check", "nosuch"]) == 1


def test_new_blocking_checks_run_as_warn_until_backtested(gate_project):
    days, runs = gate_project["days"], gate_project["runs"]
    result, evaluations = runs[days[4]]
    floor = evaluations["daily_minimum_5"]
    assert not floor.passed and floor.severity == dg.AssetCheckSeverity.WARN
    assert "runs as warn until backtested" in floor.description
    assert f"metricdag review backtest {METRIC} --dataset net_sales_daily --check daily_minimum_5" in floor.description
    assert evaluations["range"].severity == dg.AssetCheckSeverity.WARN and evaluations["range"].passed
    assert evaluations["variance"].severity == dg.AssetCheckSeverity.ERROR  # unchanged: blocks as before
    assert result.success and REVIEW in materialized(result)


def test_validate_strict_fails_until_backtested_and_the_backtest_gates(gate_project, monkeypatch, capsys):
    project, folder, env, days = gate_project["project"], gate_project["folder"], gate_project["env"], gate_project["days"]
    monkeypatch.setenv("METRICDAG_HOME", str(project))
    monkeypatch.setenv("METRICDAG_REQUIRE_BACKTEST", "true")

    assert main(["validate", "--strict", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "blocking check 'range' of 'net_sales_daily' has no backtest" in err
    assert "blocking check 'daily_minimum_5' of 'net_sales_daily' has no backtest" in err
    assert "'variance'" not in err and "'record_count'" not in err
    assert main(["validate", str(folder)]) == 0  # without --strict: not required

    for check in ("range", "daily_minimum_5"):
        assert main(["review", "backtest", METRIC, "--dataset", "net_sales_daily", "--check", check,
                     "--end", days[4].isoformat(), "--last", "5"]) == 0
    assert "recorded in the metrics repository" in capsys.readouterr().out

    assert main(["validate", "--strict", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "'range'" not in err
    assert "'daily_minimum_5' of 'net_sales_daily': its backtest fired on 5 of 5 partition(s) (100%)" in err

    result, evaluations = run_days(folder, env, METRIC, days[5:6])[days[5]]
    floor = evaluations["daily_minimum_5"]
    assert not floor.passed and floor.severity == dg.AssetCheckSeverity.ERROR  # backtested: it blocks now
    assert not result.success and REVIEW not in materialized(result)


def test_a_diff_run_records_nothing_in_the_repository(gate_project, monkeypatch, tmp_path):
    project, env, days = gate_project["project"], gate_project["env"], gate_project["days"]
    monkeypatch.setenv("METRICDAG_HOME", str(project))
    from metricdag.audit.store import audit_store_for

    store = audit_store_for(env)
    before = len(store.evaluations(env.name, METRIC)), store.accepted_partitions(env.name, METRIC, "net_sales_daily")

    main(["diff", METRIC, "--from", days[0].isoformat(), "--to", days[1].isoformat(), "--reports", str(tmp_path)])

    assert (len(store.evaluations(env.name, METRIC)), store.accepted_partitions(env.name, METRIC, "net_sales_daily")) == before
