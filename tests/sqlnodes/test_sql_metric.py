"""daily_net_sales_sql end to end on the local stack: SQL nodes run in the warehouse, their
numbers equal daily_net_sales' pandas nodes, and the output's rows never pass through Python."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.day_run import materialize_metric
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.conftest import PROJECT_ROOT, SAMPLE_ROWS

pytestmark = pytest.mark.stack

PANDAS = PROJECT_ROOT / "metrics" / "daily_net_sales"
SQL = PROJECT_ROOT / "metrics" / "daily_net_sales_sql"
COLUMNS = "business_date, store_id, region, transactions, units_sold, gross_sales_usd, discounts_usd, returns_usd, net_sales_usd"


def persisted(env, table: str, day: str) -> list[tuple]:
    _, rows = run_query(env.snowflake, f"SELECT {COLUMNS} FROM METRICS.{table} WHERE business_date = ? ORDER BY store_id",
                        (day,))
    return rows


def materializations(instance: dg.DagsterInstance, key: str) -> list[dg.AssetMaterialization]:
    records = instance.fetch_materializations(dg.AssetKey(key.split("/")), limit=10).records
    return [r.asset_materialization for r in records]


def test_sql_metric_persists_the_same_numbers_as_the_pandas_nodes(seeded_env):
    day = sample_days(seeded_env)[-2].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    ok, summary = materialize_metric(PANDAS, seeded_env, day, instance, verbose=False)
    assert ok, summary
    ok, summary = materialize_metric(SQL, seeded_env, day, instance, verbose=False)
    assert ok, summary

    expected, got = persisted(seeded_env, "NET_SALES_DAILY", day), persisted(seeded_env, "NET_SALES_DAILY_SQL", day)
    assert len(got) == len(expected) == 18
    for want, have in zip(expected, got):
        assert have[:5] == want[:5]  # date, store, region, transactions, units
        assert have[5:] == pytest.approx(want[5:], abs=0.011)  # USD amounts, each rounded to cents

    node = materializations(instance, "daily_net_sales_sql/metric_calculation/net_sales_daily_sql")[0]
    assert node.metadata["dagster/row_count"].value == 18
    assert node.metadata["table"].value == '"METRICDAG"."DAILY_NET_SALES_SQL_INTERMEDIATE"."NET_SALES_DAILY_SQL"'
    assert node.metadata["query_id"].value


def test_checks_and_persist_of_a_sql_output_never_fetch_its_rows(seeded_env, monkeypatch):
    """Every review check and the persist run in the warehouse: reading a warehouse partition
    into pandas (the only way its rows reach Python) fails the test if anything does it."""
    import metricdag.warehouse_io.read as read

    def no_rows(*args, **kwargs):
        raise AssertionError("a warehouse partition was read into a DataFrame")

    monkeypatch.setattr(read, "read_table", no_rows)
    day = sample_days(seeded_env)[-3].isoformat()
    instance = dg.DagsterInstance.ephemeral()

    ok, summary = materialize_metric(SQL, seeded_env, day, instance, verbose=False)

    assert ok, summary
    checks = {}
    for record in instance.fetch_materializations(
        dg.AssetKey(["daily_net_sales_sql", "metric_calculation", "net_sales_daily_sql"]), limit=1
    ).records:
        run_id = record.run_id
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = event.dagster_event.event_specific_data
        checks[evaluation.check_name] = (evaluation.passed, evaluation.description)
    assert set(checks) == {"record_count", "daily_minimum", "not_null", "unique", "range", "accepted_values",
                           "schema", "variance"}
    assert all(passed for passed, _ in checks.values()), checks
    assert checks["record_count"][1].startswith("18 rows, within the bounds")
    assert checks["accepted_values"][1] == "all 18 value(s) of region are accepted (3 distinct)"
    assert checks["schema"][1] == "9 column(s) match the catalog schema (version 1.0.0)"
    assert len(persisted(seeded_env, "NET_SALES_DAILY_SQL", day)) == 18


def test_a_freshness_check_of_a_source_read_in_place_counts_it_in_the_warehouse(seeded_env, monkeypatch, tmp_path):
    """pos_transactions stays in the warehouse for the SQL node: its freshness check uses the
    sourcing asset's count, and blocks the run when the day holds fewer rows than required."""
    from metricdag.settings import load_environment
    import metricdag.warehouse_io.read as read
    from tests.conftest import copy_project

    monkeypatch.setattr(read, "read_table", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rows fetched")))
    root = copy_project(tmp_path, ["daily_net_sales_sql"])
    spec = root / "metrics" / "daily_net_sales_sql" / "metric.yaml"
    spec.write_text(spec.read_text().replace(
        "      - type: record_count\n",
        "      - {type: freshness, source: pos_transactions, deadline: \"06:00\", min_rows: 3000}\n"
        "      - type: record_count\n", 1))
    env = load_environment("local", root)
    day = sample_days(env)[-6].isoformat()
    instance = dg.DagsterInstance.ephemeral()

    ok, summary = materialize_metric(root / "metrics" / "daily_net_sales_sql", env, day, instance, verbose=False)

    assert not ok
    status = {r.asset: r.status for r in summary}
    fresh = next(v for k, v in status.items() if "[check freshness]" in k)
    assert fresh == "FAILED (error)"
    assert "daily_net_sales_sql/preprocessing/pos_transactions_clean_sql" not in {
        k for k, v in status.items() if v == "ok"
    }
    run_id = instance.get_runs(limit=1)[0].run_id
    evaluation = next(
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.check_name == "freshness"
    )
    assert f"is late: {SAMPLE_ROWS} row(s) for {day}" in evaluation.description


def test_a_failing_query_names_the_node_and_file_and_leaves_the_partition_as_it_was(seeded_env, tmp_path):
    from metricdag.settings import load_environment
    from tests.conftest import copy_project

    day = sample_days(seeded_env)[-7].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_metric(SQL, seeded_env, day, instance, verbose=False)[0]
    intermediate = "DAILY_NET_SALES_SQL_INTERMEDIATE.NET_SALES_DAILY_SQL"
    before = run_query(seeded_env.snowflake, f"SELECT store_id, net_sales_usd FROM {intermediate} WHERE business_date = ? "
                       "ORDER BY 1", (day,))[1]
    root = copy_project(tmp_path, ["daily_net_sales_sql"])
    sql_file = root / "metrics" / "daily_net_sales_sql" / "metric_calculation" / "net_sales_sql" / "src" / "net_sales_sql.sql"
    sql_file.write_text(sql_file.read_text().replace("COUNT(DISTINCT l.transaction_id)", "COUNT(DISTINCT l.basket_id)"))

    ok, summary = materialize_metric(root / "metrics" / "daily_net_sales_sql", load_environment("local", root), day,
                                     instance, verbose=False)

    assert not ok
    failed = [r for r in summary if r.status.startswith("failed")]
    assert [r.asset for r in failed] == ["daily_net_sales_sql__net_sales_sql"]
    assert "node 'net_sales_sql' (daily_net_sales_sql/metric_calculation/net_sales_sql/src/net_sales_sql.sql)" in failed[0].status
    assert "rolled back" in failed[0].status
    retries = instance.all_logs(instance.get_runs(limit=1)[0].run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert retries == []  # a SQL error is permanent: one attempt
    after = run_query(seeded_env.snowflake, f"SELECT store_id, net_sales_usd FROM {intermediate} WHERE business_date = ? "
                      "ORDER BY 1", (day,))[1]
    assert after == before and len(after) == 18
