"""The factory's persist step in a real (in-process) run against the local Snowflake: it loads
exactly the review file its own run wrote, and a Snowflake that is down is retried by the
step's RetryPolicy.

The run materializes ``inventory_turnover``'s review and persisted assets for one day; the
metric_calculation output they read is written beforehand through the same IO manager.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from metricdag.factory import build_metric_definitions
from metricdag.io.io_manager import ParquetIOManager
from metricdag.io.objectstore import join_uri, store_for
from metricdag.io.parquet import to_parquet_bytes
from metricdag.settings import Environment, load_environment
from metricdag.warehouse import run_query
from tests.conftest import copy_project

METRIC = "inventory_turnover"
DAY = "2024-06-01"
CALCULATED = dg.AssetKey([METRIC, "metric_calculation", "inventory_turnover_daily"])
REVIEW = dg.AssetKey([METRIC, "review", "inventory_turnover_daily"])
PERSISTED = dg.AssetKey([METRIC, "persisted", "inventory_turnover_daily"])
RETRIES = 2


def turnover(stores: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "business_date": [date.fromisoformat(DAY)] * len(stores),
            "store_id": stores,
            "product_id": ["P001"] * len(stores),
            "inventory_turnover": [0.5] * len(stores),
        }
    )


OWN = turnover(["S001", "S002"])
OTHER = turnover(["S900"])  # what another run of the same day writes


class ConcurrentRunIOManager(ParquetIOManager):
    """The real IO manager; right after this run stores its review file, another run of the same
    day stores a newer one (the other run has not yet removed the older files)."""

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        super().handle_output(context, obj)
        if context.asset_key == REVIEW:
            prefix = self.object_store.location(REVIEW, DAY).rsplit("/", 1)[0]
            store_for(prefix).put_bytes(join_uri(prefix, f"{uuid.uuid4()}-1.parquet"), to_parquet_bytes(OTHER))


def definitions(tmp_path: Path, env: Environment) -> tuple[dg.Definitions, str]:
    """inventory_turnover in a copy of the project whose table is unique to the test and whose
    RetryPolicy is quick (``RETRIES`` retries, no delay); returns the definitions and the table."""
    project = copy_project(tmp_path / "project", ["daily_net_sales", METRIC])
    path = project / "metrics" / METRIC / "metric.yaml"
    table = "TURNOVER_" + uuid.uuid4().hex[:8].upper()
    text = path.read_text().replace("retry_policy: default", f"retry_policy: {{max_retries: {RETRIES}, delay_s: 0, backoff: none, jitter: none}}")
    path.write_text(text.replace("table: METRICS.INVENTORY_TURNOVER_DAILY", f"table: METRICS.{table}"))
    local = load_environment("local", project)
    assert local.snowflake.port == env.snowflake.port and local.object_store_uri == env.object_store_uri
    return build_metric_definitions(project / "metrics" / METRIC, local), table


def materialize(defs: dg.Definitions, io_manager: ParquetIOManager | None = None) -> dg.ExecuteInProcessResult:
    resources = dict(defs.resources)
    io_manager = io_manager or resources["io_manager"]
    resources["io_manager"] = io_manager
    io_manager.handle_output(  # the node's output, from an earlier run
        dg.build_output_context(asset_key=CALCULATED, partition_key=DAY, run_id="earlier-run"), OWN
    )
    return dg.materialize(
        list(defs.assets), selection=[REVIEW, PERSISTED], partition_key=DAY, resources=resources, raise_on_error=False
    )


def persisted_stores(env: Environment, table: str) -> list[tuple]:
    _, rows = run_query(env.snowflake, f'SELECT "STORE_ID" FROM "METRICDAG"."METRICS"."{table}" ORDER BY "STORE_ID"')
    return rows


def events(result: dg.ExecuteInProcessResult, kind: str) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type_value == kind]


def test_the_persist_step_loads_the_review_file_of_its_own_run(env, tmp_path):
    defs, table = definitions(tmp_path, env)
    base = defs.resources["io_manager"]
    concurrent = ConcurrentRunIOManager(object_store=base.object_store, project_root=base.project_root)

    result = materialize(defs, concurrent)

    assert result.success, [e.message for e in events(result, "STEP_FAILURE")]
    [persist] = [
        e.event_specific_data.materialization
        for e in events(result, "ASSET_MATERIALIZATION")
        if e.event_specific_data.materialization.asset_key == PERSISTED
    ]
    assert f"/{result.run_id}-1.parquet" in persist.metadata["source_uri"].value
    assert persisted_stores(env, table) == [("S001",), ("S002",)]  # this run's rows, not the other run's


def test_a_persist_while_snowflake_is_down_is_retried_by_the_step_policy(stopped_snowflake, tmp_path):
    server, env, _ = stopped_snowflake
    defs, _ = definitions(tmp_path, env)
    server.stop()

    result = materialize(defs)

    assert not result.success
    assert len(events(result, "STEP_UP_FOR_RETRY")) == RETRIES  # every attempt of the persist step, then it fails
    [failure] = events(result, "STEP_FAILURE")
    assert failure.step_key.endswith("persisted__inventory_turnover_daily")
    message = failure.event_specific_data.error.to_string()
    assert "TransientPersistError" in message and "250001" in message
    assert server.password not in message
