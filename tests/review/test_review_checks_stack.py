"""The new review checks end to end on the local stack.

A throw-away copy of ``daily_net_sales`` named ``checks_probe`` (own asset keys, own Snowflake
table) whose ``net_sales`` node adds one row with a negative net sales amount on one day and
multiplies the day's net sales by five on another. Every sample day is run in order; only the
``net_sales_daily`` branch is materialized.
"""

from __future__ import annotations

import shutil
from datetime import date

import dagster as dg
import pytest

from metricdag.factory import build_metric_definitions, job_name
from metricdag.localstack.seed import sample_days
from metricdag.settings import load_environment
from metricdag.warehouse import run_query
from tests.conftest import copy_project

pytestmark = pytest.mark.stack

METRIC = "checks_probe"
TABLE = "METRICS.CHECKS_PROBE_DAILY"
REVIEW = f"{METRIC}/review/net_sales_daily"
PERSISTED = f"{METRIC}/persisted/net_sales_daily"
SELECTION = [
    dg.AssetKey([METRIC, "sourcing", "pos_transactions"]),
    dg.AssetKey([METRIC, "sourcing", "stores"]),
    dg.AssetKey([METRIC, "sourcing", "fx_rates"]),
    dg.AssetKey([METRIC, "preprocessing", "pos_transactions_clean"]),
    dg.AssetKey([METRIC, "metric_calculation", "net_sales_daily"]),
    dg.AssetKey([METRIC, "review", "net_sales_daily"]),
    dg.AssetKey([METRIC, "persisted", "net_sales_daily"]),
]

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
    project = copy_project(tmp_path, ["daily_net_sales"])
    folder = project / "metrics" / METRIC
    shutil.move(project / "metrics" / "daily_net_sales", folder)
    (folder / "metric_calculation" / "net_sales" / "src" / "inject.py").write_text(
        INJECTING_NODE.format(negative=negative, outlier=outlier)
    )
    text = (folder / "metric.yaml").read_text()
    for old, new in [
        ("name: daily_net_sales", f"name: {METRIC}"),
        ("net_sales/src/net_sales.py:run", "net_sales/src/inject.py:run"),
        ("table: METRICS.NET_SALES_DAILY", f"table: {TABLE}"),
        ("      - type: variance ", NEW_CHECKS + "      - type: variance "),
        ("max_deviation_pct: 50", "max_deviation_pct: 1000"),  # leave the outlier to the anomaly check
    ]:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "metric.yaml").write_text(text)
    return project, folder


def persisted_days(env) -> set[str]:
    try:
        _, rows = run_query(env.snowflake, f"SELECT DISTINCT business_date FROM {TABLE}")
    except Exception as exc:  # the table does not exist before the first load
        if "does not exist" in str(exc):
            return set()
        raise
    return {str(r[0]) for r in rows}


@pytest.fixture(scope="module")
def probe_runs(seeded_env, tmp_path_factory):
    """Every sample day in order; the third has a negative row, the sixth is an outlier."""
    days = sample_days(seeded_env)
    assert len(days) >= 7
    project, folder = probe_metric(tmp_path_factory.mktemp("checks"), days[2], days[5])
    env = load_environment("local", project)
    job = build_metric_definitions(folder, env).resolve_job_def(job_name(METRIC))
    instance = dg.DagsterInstance.ephemeral()
    runs = {}
    for day in days:
        result = job.execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False, asset_selection=SELECTION
        )
        evaluations = {
            e.event_specific_data.check_name: e.event_specific_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }
        runs[day] = (result, evaluations)
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
    project = copy_project(tmp_path, ["daily_net_sales"])
    folder = project / "metrics" / name
    shutil.move(project / "metrics" / "daily_net_sales", folder)
    text = (folder / "metric.yaml").read_text()
    for old, new in [
        ("name: daily_net_sales", f"name: {name}"),
        ("table: METRICS.NET_SALES_DAILY", "table: METRICS.UNIQUE_PROBE_DAILY"),
        ("      - dataset: net_sales_daily\n        key: [business_date, store_id]\n", "      - dataset: net_sales_daily\n"),
        ("      - type: variance ", "      - type: unique\n      - type: variance "),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "metric.yaml").write_text(text)
    env = load_environment("local", project)
    job = build_metric_definitions(folder, env).resolve_job_def(job_name(name))
    selection = [dg.AssetKey([name, *key.path[1:]]) for key in SELECTION]

    result = job.execute_in_process(partition_key=sample_days(env)[0].isoformat(), instance=dg.DagsterInstance.ephemeral(),
                                    raise_on_error=False, asset_selection=selection)

    checks = {e.event_specific_data.check_name: e.event_specific_data
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert result.success and checks["unique"].passed
    assert checks["unique"].description == "no duplicate (business_date, store_id) in 18 row(s)"
    assert f"{name}/review/net_sales_daily" in materialized(result)


def test_a_check_that_cannot_run_fails_its_step_at_once_naming_check_and_dataset(seeded_env, tmp_path):
    """A query that is valid over no rows (what validate runs) but fails on the day's data."""
    name = "sql_probe"
    project = copy_project(tmp_path, ["daily_net_sales"])
    folder = project / "metrics" / name
    shutil.move(project / "metrics" / "daily_net_sales", folder)
    query = "      - type: sql\n        query: SELECT * FROM net_sales_daily WHERE CAST(store_id AS INTEGER) > 0\n"
    text = (folder / "metric.yaml").read_text()
    for old, new in [("name: daily_net_sales", f"name: {name}"), ("table: METRICS.NET_SALES_DAILY", "table: METRICS.SQL_PROBE_DAILY"),
                     ("      - type: variance ", query + "      - type: variance ")]:
        text = text.replace(old, new)
    (folder / "metric.yaml").write_text(text)
    env = load_environment("local", project)
    job = build_metric_definitions(folder, env).resolve_job_def(job_name(name))

    result = job.execute_in_process(partition_key=sample_days(env)[0].isoformat(), instance=dg.DagsterInstance.ephemeral(),
                                    raise_on_error=False, asset_selection=[dg.AssetKey([name, *k.path[1:]]) for k in SELECTION])

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "check 'sql' of 'net_sales_daily': CheckDataError: sql check on 'net_sales_daily': the query failed" in message
    assert "Traceback" not in failure.event_specific_data.error.message
    assert f"{name}/review/net_sales_daily" not in materialized(result)
