"""The issue as a user meets it: a day of daily_net_sales is published, treasury restates an FX
rate (a new fx_rates catalog version), the day is run again, and `metricdag explain
--compare-to <first run>` says the number changed because of fx_rates, and which stores it moved."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from metricdag.audit.store import audit_store_for
from metricdag.catalog.models import DatasetDefinition
from metricdag.cli import main
from metricdag.io.objectstore import join_uri, store_for
from metricdag.day_run import materialize_metric
from metricdag.settings import load_environment
from metricdag.spec.loader import load_metric
from metricdag.versioning import metric_version
from metricdag.warehouse import run_query
from metricdag_localstack import sample_data
from metricdag_localstack.seed import catalog_client, sample_days
from tests.conftest import PROJECT_ROOT, copy_project

pytestmark = pytest.mark.stack

METRIC = PROJECT_ROOT / "metrics" / "daily_net_sales"
RESTATED = "sample/reference/fx_rates_restated"


def publish_fx(env, version: str, coordinates: dict) -> None:
    client = catalog_client(env)
    current = client.resolve("fx_rates")
    body = current.model_dump(by_alias=True, exclude={"environment", "published_at", "coordinates", "version"})
    client.publish(DatasetDefinition.model_validate({**body, "version": version, "coordinates": {env.name: coordinates}}))


def last_run_id(instance: dg.DagsterInstance) -> str:
    return instance.get_runs(limit=1)[0].run_id


def explain(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["explain", "daily_net_sales", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_restated_fx_rate_is_named_as_the_cause_with_the_stores_it_moved(seeded_env, capsys):
    env = seeded_env
    day = sample_days(env)[3].isoformat()  # other tests only fail this day before publishing
    instance = dg.DagsterInstance.ephemeral()
    version = metric_version(load_metric(METRIC, PROJECT_ROOT)).version

    ok, summary = materialize_metric(METRIC, env, day, instance)
    assert ok, summary
    first = last_run_id(instance)
    columns, rows = run_query(
        env.snowflake,
        'SELECT DISTINCT "_METRIC_VERSION", "_RUN_ID", "_LOADED_AT" IS NOT NULL FROM METRICS.NET_SALES_DAILY '
        "WHERE business_date = ?", (day,),
    )
    assert rows == [(version, first, True)]
    (pub,) = audit_store_for(env).publications(env.name, "daily_net_sales", dataset="net_sales_daily", run_id=first)
    assert pub.metric_version == version and pub.partition == day
    assert set(pub.catalog_versions) >= {"pos_transactions", "stores", "fx_rates"}
    assert pub.input_rows["fx_rates"] == len(sample_data.fx_rates()) and pub.input_rows["pos_transactions"] > 0
    assert {"net_sales", "clean_pos_transactions"} <= set(pub.node_versions)
    assert {r["check"] for r in pub.review_results} >= {"record_count", "daily_minimum"} and all(
        r["passed"] for r in pub.review_results)

    old_fx = pub.catalog_versions["fx_rates"]
    restated = sample_data.fx_rates()
    restated.loc[restated.currency == "GBP", "usd_per_unit"] = 1.30  # was 1.268
    store = store_for(env.object_store_uri, env.object_store.s3_endpoint_url, env.object_store.s3_region)
    store.put_bytes(join_uri(env.object_store_uri, RESTATED, "fx_rates.csv"), restated.to_csv(index=False).encode())
    legend = catalog_client(env).resolve("fx_rates").coordinates.model_dump(by_alias=True)
    publish_fx(env, "8.0.0", {"kind": "object_store", "prefix": RESTATED, "format": "csv"})
    try:
        ok, summary = materialize_metric(METRIC, env, day, instance)
        assert ok, summary
        second = last_run_id(instance)

        report = explain(capsys, "--date", day, "--compare-to", first)
    finally:  # later tests of the session read the sample rates again
        publish_fx(env, "8.1.0", legend)

    assert (report["metric"], report["partition"], report["run_id"]) == ("daily_net_sales", day, second)
    assert report["metric_version"] == version and report["inputs"]["fx_rates"] == "8.0.0"
    assert report["compared_to"]["run_id"] == first
    causes = {(c["what"], c["name"]): (c["before"], c["after"]) for c in report["changes"]}
    assert causes[("input", "fx_rates")] == (old_fx, "8.0.0")
    assert not [c for c in report["changes"] if c["what"] in ("metric_version", "node")], report["changes"]

    stores = sample_data.stores()
    gbp = set(stores.loc[stores.currency == "GBP", "store_id"])
    net = report["value_changes"]["measures"]["net_sales_usd"]
    moved = {t["key"]["store_id"] for t in net["top"]}
    assert moved == gbp and net["changed_keys"] == len(gbp)  # only the GBP stores changed
    assert net["delta"] > 0 and abs(sum(t["share"] for t in net["top"]) - 1) < 1e-3
    assert report["value_changes"]["keys"] == ["business_date", "store_id"]
    top = net["top"][0]
    assert top["after"] == pytest.approx(top["before"] * 1.30 / 1.268, abs=0.011)  # the node rounds to cents

    one = sorted(gbp)[0]
    keyed = explain(capsys, "--date", day, "--compare-to", first, "--key", f"store_id={one}")
    assert [t["key"]["store_id"] for t in keyed["value_changes"]["measures"]["net_sales_usd"]["top"]] == [one]
    assert [r["store_id"] for r in keyed["key_rows"]] == [one]

    capsys.readouterr()
    assert main(["explain", "daily_net_sales", "--date", day, "--compare-to", first]) == 0
    text = capsys.readouterr().out
    assert "changed input" in text and "fx_rates" in text and one in text

    by_version = explain(capsys, "--date", day, "--compare-to", version)  # this date's latest under that version
    assert by_version["compared_to"]["run_id"] == second and by_version["changes"] == []

    next_day = sample_days(env)[2].isoformat()
    ok, summary = materialize_metric(METRIC, env, next_day, instance)
    assert ok, summary
    across = explain(capsys, "--date", next_day, "--compare-to", day)
    assert across["compared_to"]["partition"] == day
    assert across["value_changes"]["keys"] == ["store_id"]  # two dates: the partition column is not a join key
    assert across["value_changes"]["measures"]["net_sales_usd"]["changed_keys"] > 0


def test_a_changed_node_is_named_as_the_cause_and_only_its_column_moves(seeded_env, tmp_path, capsys):
    env = seeded_env
    day = sample_days(env)[3].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    ok, summary = materialize_metric(METRIC, env, day, instance)
    assert ok, summary
    baseline = last_run_id(instance)

    project = copy_project(tmp_path, ["daily_net_sales"])
    node = project / "metrics" / "daily_net_sales" / "metric_calculation" / "net_sales" / "src" / "net_sales.py"
    code = node.read_text()
    old = 'daily["gross_sales_usd"] - daily["discounts_usd"] - daily["returns_usd"]'
    assert old in code
    node.write_text(code.replace(old, 'daily["gross_sales_usd"] - daily["discounts_usd"]'))  # returns forgotten
    changed = project / "metrics" / "daily_net_sales"
    ok, summary = materialize_metric(changed, load_environment("local", project), day, instance)
    assert ok, summary

    report = explain(capsys, "--date", day, "--compare-to", baseline)
    causes = {(c["what"], c["name"]) for c in report["changes"]}
    assert ("node", "net_sales") in causes and ("metric_version", "daily_net_sales") in causes
    assert not {what for what, _ in causes} & {"input", "input_rows"}, report["changes"]
    assert report["metric_version"] == metric_version(load_metric(changed, project)).version
    measures = report["value_changes"]["measures"]
    assert measures["net_sales_usd"]["changed_keys"] > 0 and measures["net_sales_usd"]["delta"] > 0
    assert all(measures[m]["changed_keys"] == 0 for m in ("gross_sales_usd", "discounts_usd", "returns_usd"))
    _, returns = run_query(env.snowflake, "SELECT store_id, returns_usd FROM METRICS.NET_SALES_DAILY WHERE business_date = ?",
                           (day,))
    by_store = {store: float(value) for store, value in returns}
    for t in measures["net_sales_usd"]["top"]:  # each store's change is exactly the returns the node forgot
        assert t["delta"] == pytest.approx(by_store[t["key"]["store_id"]], abs=0.011)
