"""The variance review check end to end: an injected outlier day is rejected and never joins the baseline.

A throw-away copy of ``daily_net_sales`` named ``variance_probe`` (own asset keys, so its own
object-store folders; own Snowflake table) whose ``net_sales`` node multiplies the day's net sales
by five on one chosen day. Only the ``net_sales_daily`` branch is materialized.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from metricdag.cli import main
from metricdag.settings import load_environment
from metricdag_localstack.seed import sample_days
from tests.probe_metric import make_probe, run_days
from tests.probe_metric import persisted_days as probe_persisted_days

pytestmark = pytest.mark.stack  # every test here needs the local stack

METRIC = "variance_probe"
TABLE = "METRICS.VARIANCE_PROBE_DAILY"
REVIEW = f"{METRIC}/review/net_sales_daily"
PERSISTED = f"{METRIC}/persisted/net_sales_daily"

OUTLIER_NODE = '''
import importlib.util
from datetime import date
from pathlib import Path

_spec = importlib.util.spec_from_file_location("variance_probe_real_net_sales", Path(__file__).with_name("net_sales.py"))
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
OUTLIER_DAY = date.fromisoformat("{day}")


def run(inputs, context):
    out = _real.run(inputs, context)
    if context.partition_date == OUTLIER_DAY:
        frame = out["net_sales_daily"].copy()
        frame["net_sales_usd"] = frame["net_sales_usd"] * 5
        out = {{"net_sales_daily": frame}}
    return out
'''

WARN_CHECK = """      - type: daily_minimum    # an impossible floor, reported only
        measure: sum:net_sales_usd
        min: 1000000000000
        severity: warn
"""


def probe_metric(tmp_path, outlier_day: date):
    return make_probe(tmp_path, METRIC, TABLE, [("      - type: variance ", WARN_CHECK + "      - type: variance ")],
                      node=("outlier", OUTLIER_NODE.format(day=outlier_day)))


def persisted_days(env) -> set[str]:
    return probe_persisted_days(env, TABLE)


@pytest.fixture(scope="module")
def probe_runs(seeded_env, tmp_path_factory):
    """Six consecutive sample days; the fifth is the outlier. day -> (result, check evaluations by name)."""
    days = sample_days(seeded_env)[:6]
    project, folder = probe_metric(tmp_path_factory.mktemp("variance"), days[4])
    env = load_environment("local", project)
    runs = run_days(folder, env, METRIC, days)
    return days, runs, env, project


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def meta(evaluation, key: str):
    return evaluation.metadata[key].value


def test_normal_days_are_accepted_and_compared_once_history_suffices(probe_runs):
    days, runs, _, _ = probe_runs
    for n, day in enumerate(days[:4]):
        result, evaluations = runs[day]
        assert result.success, day
        assert evaluations["variance"].passed
        assert meta(evaluations["variance"], "history_days") == n  # every earlier day was accepted
        assert {REVIEW, PERSISTED} <= materialized(result)
    assert "not compared yet" in evaluations_of(runs, days[0])["variance"].description
    assert meta(evaluations_of(runs, days[3])["variance"], "deviation_pct") != "none"  # 3 days: compared


def evaluations_of(runs, day):
    return runs[day][1]


def test_outlier_day_is_rejected_and_neither_accepted_nor_persisted(probe_runs):
    days, runs, env, _ = probe_runs
    result, evaluations = runs[days[4]]

    assert not result.success
    variance = evaluations["variance"]
    assert not variance.passed and variance.severity == dg.AssetCheckSeverity.ERROR
    assert meta(variance, "deviation_pct") > 300  # five times the usual total
    assert "above the average" in variance.description and "outside the allowed 50%" in variance.description
    assert f"{METRIC}/metric_calculation/net_sales_daily" in materialized(result)
    assert REVIEW not in materialized(result)
    assert PERSISTED not in materialized(result)
    assert days[4].isoformat() not in persisted_days(env)


def test_the_day_after_passes_and_its_baseline_skips_the_outlier(probe_runs):
    days, runs, env, _ = probe_runs
    result, evaluations = runs[days[5]]

    assert result.success
    variance = evaluations["variance"]
    assert variance.passed
    history = meta(variance, "history_partitions").split(", ")
    assert history == [d.isoformat() for d in days[:4]]
    assert days[4].isoformat() not in history
    assert {REVIEW, PERSISTED} <= materialized(result)
    assert persisted_days(env) == {d.isoformat() for d in days[:4] + days[5:6]}


def test_a_failing_warn_check_only_reports(probe_runs):
    days, runs, _, _ = probe_runs
    for day in (days[0], days[5]):
        result, evaluations = runs[day]
        warn = evaluations["daily_minimum_3"]  # the impossible floor added as the third check
        assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
        assert "below the daily minimum" in warn.description
        assert result.success and {REVIEW, PERSISTED} <= materialized(result)


def test_backtest_shows_where_the_variance_check_would_have_fired(probe_runs, monkeypatch, capsys):
    days, _, _, project = probe_runs
    monkeypatch.setenv("METRICDAG_HOME", str(project))

    code = main(["review", "backtest", METRIC, "--check", "variance", "--last", "6", "--end", days[5].isoformat()])

    out = capsys.readouterr().out
    assert code == 0, out
    fired = {line.split()[0]: line.split()[3] for line in out.splitlines() if line.startswith("2024-") and " variance " in line}
    assert fired == {d.isoformat(): ("yes" if d == days[4] else "no") for d in days}
    assert "net_sales_daily:variance: would have fired on 1 of 6 partition(s) with data" in out
