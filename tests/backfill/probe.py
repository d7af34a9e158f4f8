"""A throw-away metric for backfill tests: the ``net_sales_daily`` branch of ``daily_net_sales``
under its own name and table, whose node is steered by ``control.json`` beside it (a factor on
net sales, and a day on which it returns no rows, so that day's ``record_count`` check fails)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from metricdag.warehouse import run_query
from tests.conftest import copy_project

METRIC = "backfill_probe"

NODE = '''
import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location("backfill_probe_real_net_sales", Path(__file__).with_name("net_sales.py"))
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)


def run(inputs, context):
    control = json.loads(Path(__file__).with_name("control.json").read_text())
    if context.partition_date.isoformat() == control.get("raise_on"):
        raise ValueError(f"no net sales today ({context.partition_date})")
    frame = _real.run(inputs, context)["net_sales_daily"].copy()
    for column in ("gross_sales_usd", "net_sales_usd"):
        frame[column] = frame[column] * control["factor"]
    if context.partition_date.isoformat() == control.get("empty_on"):
        frame = frame.iloc[0:0]
    return {"net_sales_daily": frame}
'''

METRIC_YAML = """\
name: {metric}
owner: sales-analytics@example.com
description: Net sales per store and day (backfill test copy).
schedule:
  cron: "30 6 * * *"
  timezone: UTC
partitions:
  start_date: "2024-05-01"
retry_policy: {{max_retries: 0, delay_s: 0, backoff: none, jitter: none}}
sourcing:
  - dataset: pos_transactions
  - dataset: stores
  - dataset: fx_rates
preprocessing:
  - name: clean_pos_transactions
    language: python
    entrypoint: preprocessing/clean_pos_transactions.py:run
    inputs: [pos_transactions, stores]
    outputs:
      - dataset: pos_transactions_clean
        key: [transaction_id, line_no]
metric_calculation:
  - name: net_sales
    language: python
    entrypoint: metric_calculation/net_sales/src/steered.py:run
    inputs: [pos_transactions_clean, fx_rates]
    outputs:
      - dataset: net_sales_daily
        key: [business_date, store_id]
review:
  - dataset: net_sales_daily
    checks:
      - type: record_count
        min: 1
        max: 500
        severity: error
      - type: variance
        measure: sum:net_sales_usd
        window: 7
        max_deviation_pct: 50
        min_history: 3
        severity: error
persist:
  - dataset: net_sales_daily
    table: {table}
    partition_column: business_date
"""


def make_project(tmp: Path, table: str) -> tuple[Path, Path]:
    """(project root, metric folder) of a project holding only the probe metric."""
    project = copy_project(tmp, ["daily_net_sales"])
    folder = project / "metrics" / METRIC
    shutil.move(project / "metrics" / "daily_net_sales", folder)
    shutil.rmtree(folder / "metric_calculation" / "basket_stats")
    (folder / "metric_calculation" / "net_sales" / "src" / "steered.py").write_text(NODE)
    (folder / "metric.yaml").write_text(METRIC_YAML.format(metric=METRIC, table=table))
    steer(folder)
    return project, folder


def steer(folder: Path, factor: float = 1.0, empty_on: str | None = None, raise_on: str | None = None) -> None:
    (folder / "metric_calculation" / "net_sales" / "src" / "control.json").write_text(
        json.dumps({"factor": factor, "empty_on": empty_on, "raise_on": raise_on})
    )


def table_rows(env, table: str, where: str = "") -> list[tuple]:
    """Every row of ``table`` (every column), sorted; [] when the table does not exist."""
    try:
        columns, rows = run_query(env.snowflake, f"SELECT * FROM {table} {where}")
    except Exception as exc:
        if "does not exist" in str(exc):
            return []
        raise
    return sorted(rows, key=lambda r: tuple(str(v) for v in r))


def days_in(env, table: str) -> dict[str, int]:
    try:
        _, rows = run_query(env.snowflake, f"SELECT business_date, COUNT(*) FROM {table} GROUP BY business_date")
    except Exception as exc:
        if "does not exist" in str(exc):
            return {}
        raise
    return {str(d): int(n) for d, n in rows}


def staging_schemas(env) -> list[str]:
    _, rows = run_query(
        env.snowflake,
        f"SELECT SCHEMA_NAME FROM {env.snowflake.database}.INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
        ("%__STAGING_%",),
    )
    return sorted(str(r[0]) for r in rows)
