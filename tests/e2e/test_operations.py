"""Operations on the local stack: events start runs of exactly the mapped nodes; a failure is
audited and alerted once (email + PagerDuty trigger) and a later success resolves it."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import requests

from metricdag.audit.sensors import alert_outbox_sensor_name
from metricdag.audit.store import audit_store_for
from metricdag.cli import main
from metricdag.events.models import new_event
from metricdag.events.sensors import EVENT_ID_TAG, event_sensor_name
from metricdag.events.sources import source_for
from metricdag.factory import build_metric_definitions, job_name
from metricdag.io.layout import partition_prefix
from metricdag.io.objectstore import local_path, store_for
from metricdag.resources import resources_for
from metricdag.day_run import materialize_metric
from metricdag.settings import cached_environment, load_environment
from metricdag_localstack.seed import sample_days
from metricdag_localstack.smtp_sink import messages
from tests.conftest import PROJECT_ROOT, copy_project

pytestmark = pytest.mark.stack  # every test here needs the local stack

METRIC = "daily_net_sales"
FOLDER = PROJECT_ROOT / "metrics" / METRIC
ROUTING_KEY = "test-routing-key-sales"


def evaluate_event_sensor(defs: dg.Definitions, env, instance, cursor: str | None, metric: str = METRIC):
    sensor = defs.resolve_sensor_def(event_sensor_name(metric))
    resources = resources_for(env)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs,
        resources={"catalog": resources["catalog"], "object_store": resources["object_store"]},
    )
    return sensor(context)


def forget_day(env, defs: dg.Definitions, metric: str, day: str) -> None:
    """The day as if never computed: no file of any asset of the metric's location for it."""
    store = store_for(env.object_store_uri, env.object_store.s3_endpoint_url, env.object_store.s3_region)
    for ad in defs.assets:
        for key in ad.keys if isinstance(ad, dg.AssetsDefinition) else ():
            if key.path[0] == metric:
                for obj in store.list(partition_prefix(env.object_store_uri, env.name, list(key.path), day)):
                    store.delete(obj.uri)


@contextmanager
def hidden(env, asset_path: list[str], day: str):
    """An asset partition's files moved aside for the block (restored afterwards)."""
    folder = Path(local_path(partition_prefix(env.object_store_uri, env.name, asset_path, day)))
    aside = folder.with_name(folder.name + ".aside")
    folder.rename(aside)
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        aside.rename(folder)


def inbox_cursor(env) -> str | None:
    return source_for(env).poll(None, 1_000_000)[1]


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def run_event(instance, run_id: str, event_type: dg.DagsterEventType):
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    assert records, f"run {run_id} has no {event_type}"
    return records[-1].event_log_entry.dagster_event


def evaluate_status_sensor(defs, name: str, instance, run_id: str, event_type: dg.DagsterEventType) -> None:
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_run_status_sensor_context(
        sensor_name=name, dagster_event=run_event(instance, run_id, event_type), dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
    )
    sensor(context)


def test_event_send_runs_exactly_the_mapped_nodes_with_a_fresh_lock(seeded_env, monkeypatch, capsys):
    day = sample_days(seeded_env)[-2].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_metric(FOLDER, seeded_env, day, instance)[0]  # the day's inputs exist
    defs = build_metric_definitions(FOLDER, seeded_env)
    cursor = inbox_cursor(seeded_env)

    cached_environment.cache_clear()  # the CLI resolves the environment of this session's stack
    assert main(["event", "send", "fx_rates_corrected", "--payload", json.dumps({"date": day})]) == 0
    event_id = capsys.readouterr().out.split()[2]
    result = evaluate_event_sensor(defs, seeded_env, instance, cursor)

    assert [r.run_key for r in result.run_requests] == [event_id]
    request = result.run_requests[0]
    assert request.partition_key == day and request.tags[EVENT_ID_TAG] == event_id
    assert {"metricdag.lock/fx_rates", "metricdag.lock/pos_transactions", "metricdag.lock/stores"} <= set(request.tags)
    expected = {
        "daily_net_sales/sourcing/fx_rates",
        "daily_net_sales/metric_calculation/net_sales_daily",
        "daily_net_sales/metric_calculation/basket_stats_daily",
        "daily_net_sales/review/net_sales_daily",
        "daily_net_sales/review/basket_stats_daily",
        "daily_net_sales/persisted/net_sales_daily",
        "daily_net_sales/persisted/basket_stats_daily",
    }
    assert {k.to_user_string() for k in request.asset_selection} == expected
    assert evaluate_event_sensor(defs, seeded_env, instance, result.cursor).run_requests == []  # cursor kept

    run = defs.resolve_job_def(job_name(METRIC)).execute_in_process(
        partition_key=day, instance=instance, asset_selection=request.asset_selection, tags=request.tags,
        raise_on_error=False,
    )
    assert run.success
    assert materialized(run) == expected  # exactly the mapped node and what follows it
    loads = [r for r in audit_store_for(seeded_env).query(metric=METRIC, date=day) if r.kind == "load" and r.run_id == run.run_id]
    assert len(loads) == 2  # net_sales_daily and basket_stats_daily
    fx_version = request.tags["metricdag.lock/fx_rates"]
    assert all(f"fx_rates@{fx_version}" in r.detail for r in loads)  # the run's lock, in the audit record


def test_the_readme_event_for_a_day_never_computed_sources_every_missing_upstream(seeded_env, capsys):
    day = sample_days(seeded_env)[-2].isoformat()  # the README's example: 2024-06-02
    instance = dg.DagsterInstance.ephemeral()
    defs = build_metric_definitions(FOLDER, seeded_env)
    forget_day(seeded_env, defs, METRIC, day)
    cursor = inbox_cursor(seeded_env)

    cached_environment.cache_clear()
    assert main(["event", "send", "pos_transactions_arrived", "--payload", json.dumps({"date": day})]) == 0
    event_id = capsys.readouterr().out.split()[2]
    result = evaluate_event_sensor(defs, seeded_env, instance, cursor)

    assert [r.run_key for r in result.run_requests] == [event_id]
    request = result.run_requests[0]
    selected = {k.to_user_string() for k in request.asset_selection}
    assert {"daily_net_sales/sourcing/stores", "daily_net_sales/sourcing/fx_rates",
            "daily_net_sales/sourcing/pos_transactions"} <= selected
    run = defs.resolve_job_def(job_name(METRIC)).execute_in_process(
        partition_key=day, instance=instance, asset_selection=request.asset_selection, tags=request.tags,
        raise_on_error=False,
    )
    assert run.success
    assert {"daily_net_sales/sourcing/stores", "daily_net_sales/sourcing/fx_rates",
            "daily_net_sales/persisted/net_sales_daily"} <= materialized(run)


def test_dataset_published_starts_the_consuming_metric_with_what_it_lacks(seeded_env, tmp_path):
    day = sample_days(seeded_env)[-3].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    turnover = PROJECT_ROOT / "metrics" / "inventory_turnover"
    defs = build_metric_definitions(turnover, seeded_env)
    forget_day(seeded_env, defs, "inventory_turnover", day)  # its own inventory snapshot is not sourced yet
    cursor = inbox_cursor(seeded_env)
    # into tables of its own: the ledger skips (and so does not publish) content loaded before
    project = copy_project(tmp_path, [METRIC])
    yaml_path = project / "metrics" / METRIC / "metric.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("table: METRICS.", "table: EVENTS_TEST."))
    env = load_environment("local", project)

    assert materialize_metric(project / "metrics" / METRIC, env, day, instance)[0]  # persists, so publishes
    result = evaluate_event_sensor(defs, seeded_env, instance, cursor, "inventory_turnover")

    by_day = [r for r in result.run_requests if r.partition_key == day]
    assert len(by_day) == 1  # net_sales_daily's event; basket_stats_daily's starts nothing
    assert by_day[0].tags["metricdag/event_type"] == "dataset_published"
    assert {k.to_user_string() for k in by_day[0].asset_selection} == {
        "inventory_turnover/sourcing/inventory_snapshots",
        "inventory_turnover/metric_calculation/inventory_turnover_daily",
        "inventory_turnover/review/inventory_turnover_daily",
        "inventory_turnover/persisted/inventory_turnover_daily",
    }
    run = defs.resolve_job_def(job_name("inventory_turnover")).execute_in_process(
        partition_key=day, instance=instance, asset_selection=by_day[0].asset_selection, tags=by_day[0].tags,
        raise_on_error=False,
    )
    assert run.success


def test_an_event_needing_another_metrics_missing_day_starts_nothing_and_says_what_to_run(seeded_env):
    day = sample_days(seeded_env)[-3].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    defs = build_metric_definitions(PROJECT_ROOT / "metrics" / "inventory_turnover", seeded_env)
    assert materialize_metric(FOLDER, seeded_env, day, instance)[0]
    cursor = inbox_cursor(seeded_env)
    event = new_event("inventory_snapshot_arrived", {"date": day})
    source_for(seeded_env).send(event)

    with hidden(seeded_env, [METRIC, "review", "product_sales_daily"], day):  # daily_net_sales never ran that day
        result = evaluate_event_sensor(defs, seeded_env, instance, cursor, "inventory_turnover")

    assert result.run_requests == []
    reason = (seeded_env.path(seeded_env.events.dead_letter) / f"{event.id}.inventory_turnover.reason.txt").read_text()
    assert "daily_net_sales/review/product_sales_daily" in reason
    assert f"metricdag run --metric daily_net_sales --date {day}" in reason


def test_malformed_event_is_dead_lettered_and_the_sensor_goes_on(seeded_env, tmp_path):
    env = seeded_env
    defs = build_metric_definitions(FOLDER, env)
    instance = dg.DagsterInstance.ephemeral()
    cursor = inbox_cursor(env)
    inbox = env.path(env.events.inbox_dir)
    (inbox / "99999999999999999998-broken.json").write_text("{nope")
    source_for(env).send(new_event("fx_rates_corrected", {"date": "soon"}))  # a date that is not one

    result = evaluate_event_sensor(defs, env, instance, cursor)

    assert result.run_requests == []
    assert result.cursor != cursor
    dead = env.path(env.events.dead_letter)
    assert (dead / "99999999999999999998-broken.raw").read_text() == "{nope"
    assert any("soon" in p.read_text() for p in dead.glob("*.reason.txt"))


@pytest.fixture
def failing_project(tmp_path: Path) -> Path:
    """daily_net_sales whose first node raises (no retries, so the test does not wait)."""
    project = copy_project(tmp_path, [METRIC])
    yaml_path = project / "metrics" / METRIC / "metric.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("retry_policy: default", "retry_policy: none"))
    node = project / "metrics" / METRIC / "preprocessing" / "clean_pos_transactions.py"
    node.write_text(node.read_text() + "\n\ndef run(inputs, context):\n    raise RuntimeError('forced failure')\n")
    return project


def pagerduty_events(env) -> list[dict]:
    return requests.get(env.alerting.pagerduty_events_url.replace("/v2/enqueue", "/events"), timeout=10).json()


def mail(env) -> list[Path]:
    return messages(env.path(env.localstack.state_dir) / "mail")


def test_a_failure_halts_downstream_is_audited_pages_once_and_a_success_resolves(
    seeded_env, failing_project, monkeypatch, capsys
):
    monkeypatch.setenv("METRICDAG_PD_ROUTING_KEY_SALES", ROUTING_KEY)
    day = sample_days(seeded_env)[1].isoformat()
    env = load_environment("local", failing_project)
    defs = build_metric_definitions(failing_project / "metrics" / METRIC, env)
    job = defs.resolve_job_def(job_name(METRIC))
    instance = dg.DagsterInstance.ephemeral()
    mail_before, pd_before = len(mail(env)), len(pagerduty_events(env))

    failed = job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False)
    evaluate_status_sensor(defs, f"{METRIC}__run_started", instance, failed.run_id, dg.DagsterEventType.RUN_START)
    evaluate_status_sensor(defs, f"{METRIC}__run_failed", instance, failed.run_id, dg.DagsterEventType.RUN_FAILURE)

    assert not failed.success
    assert {k.split("/")[1] for k in materialized(failed)} == {"sourcing"}  # nothing after the failed node
    audit = [(r.status, r.detail) for r in audit_store_for(env).query(metric=METRIC, date=day) if r.run_id == failed.run_id]
    node = "daily_net_sales__clean_pos_transactions"
    assert audit == [("started", ""), ("failed", node)]
    new_mail = mail(env)[mail_before:]
    assert len(new_mail) == 1 and b"forced failure" in new_mail[0].read_bytes()
    key = f"local:{METRIC}:{day}:{node}"
    triggers = pagerduty_events(env)[pd_before:]
    assert [(e["event_action"], e["dedup_key"], e["routing_key"]) for e in triggers] == [("trigger", key, ROUTING_KEY)]

    again = job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False)
    evaluate_status_sensor(defs, f"{METRIC}__run_failed", instance, again.run_id, dg.DagsterEventType.RUN_FAILURE)
    assert len(mail(env)) == mail_before + 1 and len(pagerduty_events(env)) == pd_before + 1  # same episode

    real = build_metric_definitions(FOLDER, seeded_env)  # the fix is deployed
    ok, _ = materialize_metric(FOLDER, seeded_env, day, instance)
    assert ok
    success_run = instance.get_runs(limit=1)[0]
    evaluate_status_sensor(real, f"{METRIC}__run_succeeded", instance, success_run.run_id, dg.DagsterEventType.RUN_SUCCESS)
    assert [(e["event_action"], e["dedup_key"]) for e in pagerduty_events(env)[pd_before + 1 :]] == [("resolve", key)]

    cached_environment.cache_clear()
    assert main(["audit", "--metric", METRIC, "--date", day]) == 0
    out = capsys.readouterr().out
    assert failed.run_id in out and success_run.run_id in out and "succeeded" in out
    assert "NET_SALES_DAILY" in out  # the load records of the successful run


def test_an_smtp_sink_that_is_down_changes_nothing_but_the_email(seeded_env, failing_project, monkeypatch):
    from metricdag_localstack.processes import free_port

    monkeypatch.setenv("METRICDAG_PD_ROUTING_KEY_SALES", ROUTING_KEY)
    monkeypatch.setenv("METRICDAG_SMTP_PORT", str(free_port()))  # nobody listens there
    env = load_environment("local", failing_project)
    defs = build_metric_definitions(failing_project / "metrics" / METRIC, env)
    day = sample_days(seeded_env)[2].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    pd_before = len(pagerduty_events(env))

    failed = defs.resolve_job_def(job_name(METRIC)).execute_in_process(
        partition_key=day, instance=instance, raise_on_error=False
    )
    evaluate_status_sensor(defs, f"{METRIC}__run_failed", instance, failed.run_id, dg.DagsterEventType.RUN_FAILURE)

    assert [r.status for r in audit_store_for(env).query(metric=METRIC, date=day) if r.run_id == failed.run_id] == ["failed"]
    assert [e["event_action"] for e in pagerduty_events(env)[pd_before:]] == ["trigger"]


def test_a_new_sensor_starts_after_the_events_already_in_the_inbox(seeded_env):
    defs = build_metric_definitions(FOLDER, seeded_env)
    source_for(seeded_env).send(new_event("fx_rates_corrected", {"date": sample_days(seeded_env)[-1].isoformat()}))

    result = evaluate_event_sensor(defs, seeded_env, dg.DagsterInstance.ephemeral(), None)

    assert result.run_requests == [] and result.cursor == inbox_cursor(seeded_env)


def outbox_tick(defs: dg.Definitions):
    sensor = defs.resolve_sensor_def(alert_outbox_sensor_name(METRIC))
    return sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), definitions=defs))


def test_alerts_missed_while_both_channels_were_down_go_out_on_the_next_outbox_tick(
    seeded_env, failing_project, monkeypatch, capsys
):
    from metricdag_localstack.processes import free_port

    monkeypatch.setenv("METRICDAG_PD_ROUTING_KEY_SALES", ROUTING_KEY)
    real = build_metric_definitions(FOLDER, seeded_env)
    outbox_tick(real)  # what earlier tests left pending goes out first
    with monkeypatch.context() as down:  # SMTP and PagerDuty unreachable for this failure
        down.setenv("METRICDAG_SMTP_PORT", str(free_port()))
        down.setenv("METRICDAG_PAGERDUTY_PORT", str(free_port()))
        env = load_environment("local", failing_project)
    defs = build_metric_definitions(failing_project / "metrics" / METRIC, env)
    # not next to the days earlier tests left failing, which would join their episode (no new page)
    day = sample_days(seeded_env)[5].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    mail_before, pd_before = len(mail(seeded_env)), len(pagerduty_events(seeded_env))

    failed = defs.resolve_job_def(job_name(METRIC)).execute_in_process(
        partition_key=day, instance=instance, raise_on_error=False
    )
    evaluate_status_sensor(defs, f"{METRIC}__run_failed", instance, failed.run_id, dg.DagsterEventType.RUN_FAILURE)
    assert (len(mail(seeded_env)), len(pagerduty_events(seeded_env))) == (mail_before, pd_before)

    outbox_tick(real)  # the channels are back
    outbox_tick(real)

    new_mail = mail(seeded_env)[mail_before:]
    assert len(new_mail) == 1 and b"forced failure" in new_mail[0].read_bytes()
    key = f"local:{METRIC}:{day}:daily_net_sales__clean_pos_transactions"
    assert [(e["event_action"], e["dedup_key"]) for e in pagerduty_events(seeded_env)[pd_before:]] == [("trigger", key)]
    cached_environment.cache_clear()
    assert main(["audit", "--metric", METRIC, "--date", day]) == 0
    out = capsys.readouterr().out
    assert f"open  {key}  run {failed.run_id}" in out
    assert "delivered: trigger email:sales-analytics, trigger pagerduty:sales-analytics" in out
