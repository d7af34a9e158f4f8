"""Mixed metrics: a Python node reads a SQL node's output (the IO manager reads the day's partition
of its intermediate table) and a SQL node reads a Python node's output (staged into the warehouse
by the persister's load), in one run on the local stack."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.seed import load_seed_files, seed_catalog
from metricdag.day_run import materialize_metric
from metricdag.settings import load_environment
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.conftest import copy_project

pytestmark = pytest.mark.stack

PYTHON_NODE = '''
import pandas as pd

KEY = ["business_date", "store_id", "product_id"]


def run(inputs, context):
    lines = inputs["pos_transactions_clean_sql"]  # read from the SQL node's intermediate table
    returned = lines["is_return"].astype(bool)
    units = lines["quantity"].abs()
    frame = lines[KEY].assign(units_sold=units.where(~returned, 0), units_returned=units.where(returned, 0))
    daily = frame.groupby(KEY, as_index=False)[["units_sold", "units_returned"]].sum()
    daily["net_units"] = daily["units_sold"] - daily["units_returned"]
    return {"product_sales_daily": daily}
'''

SQL_NODE = '''
SELECT business_date, store_id, SUM(units_sold) AS units_sold, COUNT(*) AS products
FROM {{ input("product_sales_daily") }}
GROUP BY business_date, store_id
'''

NODES = '''
  - name: product_sales
    language: python
    entrypoint: metric_calculation/product_sales/src/product_sales.py:run
    inputs: [pos_transactions_clean_sql]
    outputs:
      - dataset: product_sales_daily
        key: [business_date, store_id, product_id]
  - name: store_units
    language: sql
    entrypoint: metric_calculation/store_units/src/store_units.sql
    inputs: [product_sales_daily]
    outputs:
      - dataset: store_units_daily_sql
        key: [business_date, store_id]
'''

CATALOG = '''
datasets:
  - name: store_units_daily_sql
    version: "1.0.0"
    owner: tests@example.com
    description: Units sold per store and day, from a Python node's output, aggregated in SQL.
    schema:
      key: [business_date, store_id]
      partition_column: business_date
      columns:
        - {name: business_date, type: date, nullable: false}
        - {name: store_id, type: string, nullable: false}
        - {name: units_sold, type: int64}
        - {name: products, type: int64}
    coordinates:
      local: {kind: snowflake, schema: DAILY_NET_SALES_SQL_INTERMEDIATE, table: STORE_UNITS_DAILY_SQL}
'''


@pytest.fixture()
def mixed_project(tmp_path, seeded_env):
    root = copy_project(tmp_path, ["daily_net_sales_sql"])
    folder = root / "metrics" / "daily_net_sales_sql"
    for node, name, body in (("product_sales", "product_sales.py", PYTHON_NODE), ("store_units", "store_units.sql", SQL_NODE)):
        (folder / "metric_calculation" / node / "src").mkdir(parents=True)
        (folder / "metric_calculation" / node / "src" / name).write_text(body)
    spec = folder / "metric.yaml"
    spec.write_text(spec.read_text().replace("\nreview:", NODES + "\nreview:", 1))
    (root / "pipeline-configs" / "catalog" / "zz_mixed_test.yaml").write_text(CATALOG)
    env = load_environment("local", root)
    seed_catalog(CatalogClient.for_environment(env), load_seed_files(root / "pipeline-configs" / "catalog"))
    return env, folder


def test_python_reads_a_sql_output_and_sql_reads_a_python_output(mixed_project):
    env, folder = mixed_project
    day = sample_days(env)[-4].isoformat()
    instance = dg.DagsterInstance.ephemeral()

    ok, summary = materialize_metric(folder, env, day, instance, verbose=False)

    assert ok, [(r.asset, r.status) for r in summary if r.status not in ("ok", "passed")]
    rows = {r.asset: r.rows for r in summary}
    # the Python node read the day's partition of the SQL node's table, and its rows were staged
    staged = run_query(env.snowflake, "SELECT COUNT(*), SUM(units_sold) FROM DAILY_NET_SALES_SQL_INTERMEDIATE.PRODUCT_SALES_DAILY "
                       "WHERE business_date = ?", (day,))[1][0]
    assert staged[0] == rows["daily_net_sales_sql/metric_calculation/product_sales_daily"] > 0
    # ... and the SQL node over it agrees with the SQL net-sales node on the day's units
    _, by_store = run_query(
        env.snowflake,
        "SELECT u.store_id, u.units_sold, n.units_sold FROM DAILY_NET_SALES_SQL_INTERMEDIATE.STORE_UNITS_DAILY_SQL u "
        "JOIN DAILY_NET_SALES_SQL_INTERMEDIATE.NET_SALES_DAILY_SQL n ON n.store_id = u.store_id AND n.business_date = u.business_date "
        "WHERE u.business_date = ? ORDER BY 1", (day,),
    )
    assert len(by_store) == 18
    assert all(units == expected for _, units, expected in by_store)
    assert sum(units for _, units, _ in by_store) == staged[1]


def test_a_sql_check_of_a_sql_output_reads_its_rows(seeded_env, tmp_path):
    """The one check that needs rows (a DuckDB query over the day's data) gets them from the
    intermediate table through the IO manager."""
    root = copy_project(tmp_path, ["daily_net_sales_sql"])
    spec = root / "metrics" / "daily_net_sales_sql" / "metric.yaml"
    spec.write_text(spec.read_text().replace(
        "      - type: schema\n",
        "      - type: schema\n      - {type: sql, query: \"SELECT * FROM net_sales_daily_sql WHERE net_sales_usd > 1e9\"}\n", 1))
    env = load_environment("local", root)
    day = sample_days(env)[-4].isoformat()
    instance = dg.DagsterInstance.ephemeral()

    ok, summary = materialize_metric(root / "metrics" / "daily_net_sales_sql", env, day, instance, verbose=False)

    assert ok, [(r.asset, r.status) for r in summary if r.status not in ("ok", "passed")]
    run_id = instance.get_runs(limit=1)[0].run_id
    sql = next(e.dagster_event.event_specific_data for e in instance.all_logs(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION) if e.dagster_event.event_specific_data.check_name == "sql")
    assert sql.passed and sql.description == "the query returned no offending row (over 18 row(s))"
