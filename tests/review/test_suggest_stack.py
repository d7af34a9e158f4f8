"""``metricdag review suggest`` on the sample metric: its block, pasted into a copy of metric.yaml,
validates and every suggested check passes when the same days run again."""

from __future__ import annotations

import re
import shutil

import dagster as dg
import pytest

from metricdag.cli import main
from metricdag.factory import build_metric_definitions, job_name
from metricdag.settings import load_environment
from metricdag_localstack.seed import sample_days
from tests.conftest import copy_project

pytestmark = pytest.mark.stack

METRIC = "suggest_probe"
SELECTION = [
    dg.AssetKey([METRIC, layer, dataset])
    for layer, dataset in [("sourcing", "pos_transactions"), ("sourcing", "stores"), ("sourcing", "fx_rates"),
                           ("preprocessing", "pos_transactions_clean"), ("metric_calculation", "net_sales_daily"),
                           ("review", "net_sales_daily"), ("persisted", "net_sales_daily")]
]


def evaluations(result) -> dict[str, object]:
    return {e.event_specific_data.check_name: e.event_specific_data
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def run_days(folder, env, days) -> dict:
    job = build_metric_definitions(folder, env).resolve_job_def(job_name(METRIC))
    instance = dg.DagsterInstance.ephemeral()
    out = {}
    for day in days:
        result = job.execute_in_process(partition_key=day.isoformat(), instance=instance, raise_on_error=False,
                                        asset_selection=SELECTION)
        out[day] = (result, evaluations(result))
    return out


def test_suggested_checks_validate_and_pass_on_the_sample(seeded_env, tmp_path, monkeypatch, capsys):
    project = copy_project(tmp_path, ["daily_net_sales"])
    folder = project / "metrics" / METRIC
    shutil.move(project / "metrics" / "daily_net_sales", folder)
    path = folder / "metric.yaml"
    text = path.read_text().replace("name: daily_net_sales", f"name: {METRIC}")
    path.write_text(text.replace("METRICS.NET_SALES_DAILY", "METRICS.SUGGEST_PROBE_DAILY"))
    env = load_environment("local", project)
    days = sample_days(env)[:5]
    assert all(result.success for result, _ in run_days(folder, env, days).values())
    monkeypatch.setenv("METRICDAG_HOME", str(project))

    assert main(["review", "suggest", METRIC, "--last", "5"]) == 0
    block = capsys.readouterr().out

    assert block.startswith("review:\n")
    assert f"suggested from 5 accepted partition(s) of {METRIC}/review/net_sales_daily" in block
    assert "no stored partitions of suggest_probe/review/basket_stats_daily: its current checks are kept" in block
    for check in ("record_count", "schema", "not_null", "unique", "range", "accepted_values"):
        assert f"- type: {check}" in block, check
    net_sales = block.split("- dataset: net_sales_daily")[1].split("- dataset:")[0]
    assert re.search(r"- type: daily_minimum +# kept from metric.yaml\n        measure: \"sum:net_sales_usd\"", net_sales)
    assert re.search(r"- type: variance +# kept from metric.yaml", net_sales)
    assert net_sales.count("- type: record_count") == 1  # the suggested one replaces the declared one
    text = path.read_text()
    path.write_text(re.sub(r"(?ms)^review:\n.*?(?=^persist:)", lambda _: block + "\n", text))
    assert main(["validate", str(folder)]) == 0, capsys.readouterr().err

    runs = run_days(folder, load_environment("local", project), days)
    for day, (result, checks) in runs.items():
        failed = {name: ev.description for name, ev in checks.items() if not ev.passed}
        assert result.success and not failed, (day, failed)
        assert sum(1 for name in checks if name.startswith("range")) >= 5  # one per numeric column
        assert {"variance", "daily_minimum", "schema", "unique", "not_null"} <= set(checks)
