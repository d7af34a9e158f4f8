"""daily_net_sales end to end on the local stack: every layer, persisted to Snowflake."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.errors import SpecError
from metricdag.factory import build_metric_definitions, job_name
from metricdag.day_run import materialize_metric
from metricdag.settings import load_environment
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.conftest import PROJECT_ROOT, copy_project

METRIC = PROJECT_ROOT / "metrics" / "daily_net_sales"


def table_rows(env, where: str = "") -> list[tuple]:
    try:
        _, rows = run_query(env.snowflake, f"SELECT business_date, store_id, net_sales_usd FROM METRICS.NET_SALES_DAILY {where} ORDER BY 1, 2")
    except Exception as exc:  # the table does not exist before the first load
        if "does not exist" in str(exc):
            return []
        raise
    return rows


@pytest.mark.stack
def test_every_layer_runs_and_lands_in_snowflake_once(seeded_env):
    day = sample_days(seeded_env)[-1].isoformat()
    instance = dg.DagsterInstance.ephemeral()

    ok, summary = materialize_metric(METRIC, seeded_env, day, instance)
    assert ok, summary
    layers = {row.asset.split("/")[1] for row in summary}
    assert {"sourcing", "preprocessing", "metric_calculation", "review", "persisted"} <= layers
    persisted = next(r for r in summary if r.asset == "daily_net_sales/persisted/net_sales_daily")
    first = table_rows(seeded_env, f"WHERE business_date = '{day}'")
    assert persisted.rows == len(first) == 18  # one row per sample store
    assert all(net is not None for _, _, net in first)

    ok, _ = materialize_metric(METRIC, seeded_env, day, instance)
    assert ok
    assert table_rows(seeded_env, f"WHERE business_date = '{day}'") == first  # replaced, not appended


@pytest.mark.stack
def test_other_partitions_are_untouched_by_a_rerun(seeded_env):
    days = [d.isoformat() for d in sample_days(seeded_env)[-3:-1]]
    instance = dg.DagsterInstance.ephemeral()
    for day in days:
        assert materialize_metric(METRIC, seeded_env, day, instance)[0]
    before = table_rows(seeded_env, f"WHERE business_date = '{days[0]}'")
    assert materialize_metric(METRIC, seeded_env, days[1], instance)[0]
    assert table_rows(seeded_env, f"WHERE business_date = '{days[0]}'") == before


@pytest.mark.stack
def test_failing_review_check_stops_review_and_persistence(seeded_env, tmp_path):
    project = copy_project(tmp_path, ["daily_net_sales"])
    yaml_path = project / "metrics" / "daily_net_sales" / "metric.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("max: 500", "max: 5"))  # 18 stores > 5: rejected
    env = load_environment("local", project)
    day = sample_days(env)[0].isoformat()  # a day no other test persists
    before = table_rows(seeded_env, f"WHERE business_date = '{day}'")

    defs = build_metric_definitions(project / "metrics" / "daily_net_sales", env)
    result = defs.resolve_job_def(job_name("daily_net_sales")).execute_in_process(
        partition_key=day, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )

    assert not result.success
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    net_sales = [ev for ev in evaluations if ev.asset_key.path[-1] == "net_sales_daily"]
    assert sorted((ev.check_name, ev.passed) for ev in net_sales) == [
        ("daily_minimum", True), ("record_count", False), ("variance", True)
    ]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "daily_net_sales/metric_calculation/net_sales_daily" in materialized
    assert "daily_net_sales/review/net_sales_daily" not in materialized
    assert "daily_net_sales/persisted/net_sales_daily" not in materialized
    assert table_rows(seeded_env, f"WHERE business_date = '{day}'") == before == []


def test_broken_metric_fails_alone_with_path_and_line(tmp_path):
    project = copy_project(tmp_path, ["daily_net_sales"])
    good = project / "metrics" / "daily_net_sales"
    broken = project / "metrics" / "broken_metric"
    broken.mkdir()
    (broken / "metric.yaml").write_text(
        (good / "metric.yaml").read_text().replace("name: daily_net_sales", "name: broken_metric").replace(
            "  - dataset: stores\n", "  - dataset: stores\n    colour: blue\n"
        )
    )
    env = load_environment("local", project)

    with pytest.raises(SpecError) as info:
        build_metric_definitions(broken, env)
    line = next(i for i, text in enumerate((broken / "metric.yaml").read_text().splitlines(), 1) if "colour" in text)
    assert f"{broken / 'metric.yaml'}:{line}: unknown key 'colour'" in str(info.value)

    defs = build_metric_definitions(good, env)  # the other code location still loads
    assert defs.resolve_job_def(job_name("daily_net_sales"))
