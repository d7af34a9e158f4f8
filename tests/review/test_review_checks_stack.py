"""The new review checks end to end on the local stack.

A throw-away copy of ``daily_net_sales`` named ``checks_probe`` (own asset keys, own Snowflake
table) whose ``net_sales`` node adds one row with a negative net sales amount on one day and
multiplies the day's net sales by five on another. Every sample day is run in order; only the
``net_sales_daily`` branch is materialized.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from metricdag.settings import load_environment
from metricdag_localstack.seed import sample_days
from tests.probe_metric import make_probe, run_days
from tests.probe_metric import persisted_days as probe_persisted_days

pytestmark = pytest.mark.stack

METRIC = "checks_probe"
TABLE = "METRICS.CHECKS_PROBE_DAILY"
REVIEW = f"{METRIC}/review/net_sales_daily"
PERSISTED = f"{METRIC}/persisted/net_sales_daily"

INJECTING_NODE = '''
import importlib.util
from datetime import date
from pathlib import Path

import pandas as pd

_spec = importlib.util.spec_from_file_location("checks_probe_real_net_sales", Path(__file__).with_name("net_sales.py"))
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
NEGATIVE_DAY = date.fromisoformat("{negative}")
OUTLIER_DAY = date.fromisoformat("{outlier}")


def run(inputs, context):
    out = _real.run(inputs, context)
    frame = out["net_sales_daily"]
    if context.partition_date == NEGATIVE_DAY:
        extra = frame.iloc[[0]].copy()
        extra["store_id"] = "S999"
        extra["net_sales_usd"] = -0.01
        frame = pd.concat([frame, extra], ignore_index=True)
    if context.partition_date == OUTLIER_DAY:
        frame = frame.copy()
        frame["net_sales_usd"] = frame["net_sales_usd"] * 5
    return {{"net_sales_daily": frame}}
'''

NEW_CHECKS = """      - type: range            # no negative net sales on a store's day
        column: net_sales_usd
        min: 0
      - type: not_null
        columns: [business_date, store_id, region, net_sales_usd]
      - type: unique
      - type: accepted_values
        column: region
        values: [North America, Europe, Asia Pacific]
      - type: schema
      - type: sql
        query: SELECT store_id, units_sold FROM net_sales_daily WHERE units_sold < 0
      - type: anomaly
        measure: sum:net_sales_usd
        window: 28
        min_history: 2
        sensitivity: 4
"""


def probe_metric(tmp_path, negative: date, outlier: date):
    return make_probe(
        tmp_path, METRIC, TABLE,
        [
            ("      - type: variance ", NEW_CHECKS + "      - type: variance "),
            ("max_deviation_pct: 50", "max_deviation_pct: 1000"),  # leave the outlier to the anomaly check
        ],
        node=("inject", INJECTING_NODE.format(negative=negative, outlier=outlier)),
    )


def persisted_days(env) -> set[str]:
    return probe_persisted_days(env, TABLE)


@pytest.fixture(scope="module")
def probe_runs(seeded_env, tmp_path_factory):
    """Every sample day in order; the third has a negative row, the sixth is an outlier."""
    days = sample_days(seeded_env)
    assert len(days) >= 7
    project, folder = probe_metric(tmp_path_factory.mktemp("checks"), days[2], days[5])
    env = load_environment("local", project)
    runs = run_days(folder, env, METRIC, days)
    return days, runs, env


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


NEW = ["range", "not_null", "unique", "accepted_values", "schema", "sql", "anomaly"]


def test_every_new_check_passes_on_the_sample_days(probe_runs):
    days, runs, env = probe_runs
    for day in [d for n, d in enumerate(days) if n not in (2, 5)]:
        result, evaluations = runs[day]
        failed = {name: ev.description for name, ev in evaluations.items() if not ev.passed}
        assert result.success and not failed, (day, failed)
        assert set(NEW) <= set(evaluations)
        assert {REVIEW, PERSISTED} <= materialized(result)
    compared = [runs[d][1]["anomaly"] for d in days[4:] if d != days[5]]
    assert all(ev.metadata["z_score"].value != "none" for ev in compared)  # enough history: really compared


def test_an_out_of_range_row_is_rejected_and_not_persisted(probe_runs):
    days, runs, env = probe_runs
    result, evaluations = runs[days[2]]

    assert not result.success
    rng = evaluations["range"]
    assert not rng.passed and rng.severity == dg.AssetCheckSeverity.ERROR
    assert rng.metadata["failing_rows"].value == 1
    assert "store_id='S999'" in rng.description and "net_sales_usd=-0.01" in rng.description
    assert [n for n, ev in evaluations.items() if not ev.passed] == ["range"]
    assert f"{METRIC}/metric_calculation/net_sales_daily" in materialized(result)
    assert REVIEW not in materialized(result) and PERSISTED not in materialized(result)
    assert days[2].isoformat() not in persisted_days(env)


def test_the_anomaly_check_fires_on_the_outlier_day(probe_runs):
    days, runs, env = probe_runs
    result, evaluations = runs[days[5]]

    assert not result.success
    found = evaluations["anomaly"]
    assert not found.passed and found.severity == dg.AssetCheckSeverity.ERROR
    assert found.metadata["z_score"].value > 4 and "beyond the sensitivity 4" in found.description
    assert [n for n, ev in evaluations.items() if not ev.passed] == ["anomaly"]
    assert REVIEW not in materialized(result) and PERSISTED not in materialized(result)
    assert persisted_days(env) == {d.isoformat() for n, d in enumerate(days) if n not in (2, 5)}


def test_unique_without_a_declared_key_uses_the_catalog_key(seeded_env, tmp_path):
    """The output declares no key: the unique check resolves the catalog schema's key (the
    version the run is locked to) and checks that one."""
    name = "unique_probe"
    project, folder = make_probe(tmp_path, name, "METRICS.UNIQUE_PROBE_DAILY", [
        ("      - dataset: net_sales_daily\n        key: [business_date, store_id]\n", "      - dataset: net_sales_daily\n"),
        ("      - type: variance ", "      - type: unique\n      - type: variance "),
    ])
    env = load_environment("local", project)

    ((result, checks),) = run_days(folder, env, name, sample_days(env)[:1]).values()

    assert result.success and checks["unique"].passed
    assert checks["unique"].description == "no duplicate (business_date, store_id) in 18 row(s)"
    assert f"{name}/review/net_sales_daily" in materialized(result)


def test_a_check_that_cannot_run_fails_its_step_at_once_naming_check_and_dataset(seeded_env, tmp_path):
    """A query that is valid over no rows (what validate runs) but fails on the day's data."""
    name = "sql_probe"
    query = "      - type: sql\n        query: SELECT * FROM net_sales_daily WHERE CAST(store_id AS INTEGER) > 0\n"
    project, folder = make_probe(tmp_path, name, "METRICS.SQL_PROBE_DAILY",
                                 [("      - type: variance ", query + "      - type: variance ")])
    env = load_environment("local", project)

    ((result, _),) = run_days(folder, env, name, sample_days(env)[:1]).values()

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "check 'sql' of 'net_sales_daily': CheckDataError: sql check on 'net_sales_daily': the query failed" in message
    assert "Traceback" not in failure.event_specific_data.error.message
    assert f"{name}/review/net_sales_daily" not in materialized(result)
