"""The freshness check on the local stack: a source short of its rows stops the run before any node computes."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.settings import load_environment
from metricdag_localstack.seed import sample_days
from tests.probe_metric import make_probe, run_days

pytestmark = pytest.mark.stack

METRIC = "fresh_probe"
TABLE = "METRICS.FRESH_PROBE_DAILY"
ANCHOR = "      - type: record_count     # one row per trading store: 18 stores in the sample\n"
FRESHNESS = """      - type: freshness        # the day's transactions are in by 06:00 UTC the day after
        source: pos_transactions
        deadline: "06:00"
        min_rows: {min_rows}
"""


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_a_source_short_of_its_rows_fails_the_run_before_anything_computes(seeded_env, tmp_path):
    project, folder = make_probe(tmp_path, METRIC, TABLE, [(ANCHOR, FRESHNESS.format(min_rows=1) + ANCHOR)])
    env = load_environment("local", project)
    first, second = sample_days(seeded_env)[:2]

    result, evaluations = run_days(folder, env, METRIC, [first])[first]
    assert result.success
    assert evaluations["freshness"].passed and evaluations["freshness"].severity == dg.AssetCheckSeverity.ERROR
    assert f"{METRIC}/review/net_sales_daily" in materialized(result)

    path = folder / "metric.yaml"
    path.write_text(path.read_text().replace("        min_rows: 1\n", "        min_rows: 1000000000\n"))
    result, evaluations = run_days(folder, env, METRIC, [second])[second]

    check = evaluations["freshness"]
    assert not result.success and not check.passed
    assert check.asset_key == dg.AssetKey([METRIC, "sourcing", "pos_transactions"])
    assert f"source 'pos_transactions' is late:" in check.description
    assert "nothing is computed on partial data" in check.description
    done = materialized(result)
    assert f"{METRIC}/sourcing/pos_transactions" in done
    assert not any("/preprocessing/" in key or "/metric_calculation/" in key for key in done)
