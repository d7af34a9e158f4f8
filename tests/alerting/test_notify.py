"""Alerts against the local SMTP sink and PagerDuty receiver (real processes on free ports):
one page per failure episode, resolve with the same key, a channel that is down is a warning."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from metricdag.alerting.episodes import Failure, dedup_key
from metricdag.alerting.notify import alert_failure, deliver_pending, resolve_partition
from metricdag.alerting.routes import AlertingConfig, Route, routes_for
from metricdag.audit.store import AuditStore
from metricdag.settings import AlertingSettings
from metricdag_localstack.processes import free_port, start_process, stop_process_group, wait_for_port
from metricdag_localstack.smtp_sink import messages

HOST = "127.0.0.1"


@dataclass
class Sinks:
    mail: Path
    pagerduty_url: str
    smtp_port: int

    def settings(self, **overrides) -> AlertingSettings:
        return AlertingSettings(smtp_host=HOST, smtp_port=self.smtp_port, sender="metricdag@localhost",
                                pagerduty_events_url=self.pagerduty_url + "/v2/enqueue", timeout_s=5, **overrides)

    def pd_events(self) -> list[dict]:
        return requests.get(self.pagerduty_url + "/events", timeout=5).json()

    def down(self) -> AlertingSettings:
        """Both channels down: SMTP and PagerDuty pointed at closed ports."""
        return self.settings().model_copy(update={
            "smtp_port": free_port(), "pagerduty_events_url": f"http://{HOST}:{free_port()}/v2/enqueue",
        })


@pytest.fixture(scope="module")
def sinks(tmp_path_factory) -> Iterator[Sinks]:
    root = tmp_path_factory.mktemp("sinks")
    smtp_port, pd_port = free_port(), free_port()
    procs = [
        start_process("smtp", [sys.executable, "-m", "metricdag_localstack.smtp_sink", "--dir", str(root / "mail"),
                               "--port", str(smtp_port)], root / "smtp.log"),
        start_process("pagerduty", [sys.executable, "-m", "metricdag_localstack.pagerduty_receiver", "--dir",
                                    str(root / "pd"), "--port", str(pd_port)], root / "pd.log"),
    ]
    try:
        wait_for_port(HOST, smtp_port, 30, procs[0], root / "smtp.log")
        wait_for_port(HOST, pd_port, 30, procs[1], root / "pd.log")
        yield Sinks(root / "mail", f"http://{HOST}:{pd_port}", smtp_port)
    finally:
        for p in procs:
            stop_process_group(p.pid)
            p.wait(timeout=5)


ROUTE = Route(email=["oncall@example.com"], pagerduty_routing_key_env="TEST_PD_KEY", severity="critical")


@pytest.fixture
def store(tmp_path) -> AuditStore:
    return AuditStore(f"sqlite:///{tmp_path}/audit.db")


def failure(partition: str, node: str = "m__clean") -> Failure:
    return Failure("test", "m", partition, node, "run-1", "boom")


def test_one_episode_pages_once_and_a_success_resolves_it(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    mail_before, pd_before = len(messages(sinks.mail)), len(sinks.pd_events())
    key = dedup_key("test", "m", "2024-06-01", "m__clean")

    assert alert_failure(failure("2024-06-01"), [("r", ROUTE)], sinks.settings(), store)
    assert not alert_failure(failure("2024-06-01"), [("r", ROUTE)], sinks.settings(), store)  # same episode

    new_mail = messages(sinks.mail)[mail_before:]
    assert len(new_mail) == 1 and b"m 2024-06-01 failed at m__clean" in new_mail[0].read_bytes()
    events = sinks.pd_events()[pd_before:]
    assert [(e["event_action"], e["dedup_key"], e["routing_key"]) for e in events] == [("trigger", key, "routing-key-1")]
    assert events[0]["payload"]["severity"] == "critical"

    assert resolve_partition("test", "m", "2024-06-01", [("r", ROUTE)], sinks.settings(), store) == [key]
    assert [(e["event_action"], e["dedup_key"]) for e in sinks.pd_events()[pd_before + 1 :]] == [("resolve", key)]
    assert alert_failure(failure("2024-06-01"), [("r", ROUTE)], sinks.settings(), store)  # a new episode pages again


def test_a_channel_that_is_down_is_a_warning_and_the_incident_is_kept(sinks, store, monkeypatch, caplog):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    pd_before = len(sinks.pd_events())
    down = sinks.settings().model_copy(update={"smtp_port": free_port()})

    assert alert_failure(failure("2024-06-02"), [("r", ROUTE)], down, store)

    assert "email via route r failed" in caplog.text
    assert [e["event_action"] for e in sinks.pd_events()[pd_before:]] == ["trigger"]  # the other channel still works
    assert [i.dedup_key for i in store.open_incidents("test", "m", "2024-06-02")] == [
        dedup_key("test", "m", "2024-06-02", "m__clean")
    ]


def test_a_missing_routing_key_variable_skips_pagerduty_with_a_warning(sinks, store, monkeypatch, caplog):
    monkeypatch.delenv("TEST_PD_KEY", raising=False)
    pd_before = len(sinks.pd_events())
    assert alert_failure(failure("2024-06-03"), [("r", ROUTE)], sinks.settings(), store)
    assert sinks.pd_events()[pd_before:] == []
    assert "TEST_PD_KEY is not set" in caplog.text


def test_routes_come_from_metric_yaml_then_alerting_yaml_then_defaults():
    config = AlertingConfig(routes={"a": ROUTE, "b": ROUTE}, default_routes=["a"], metrics={"m": ["b"]})
    assert [n for n, _ in routes_for(config, "m", ["a"])] == ["a"]
    assert [n for n, _ in routes_for(config, "m")] == ["b"]
    assert [n for n, _ in routes_for(config, "other")] == ["a"]


def test_the_project_alerting_yaml_names_variables_not_keys():
    from metricdag.alerting.routes import load_alerting_config
    from tests.conftest import PROJECT_ROOT

    config = load_alerting_config(PROJECT_ROOT)
    assert config.routes and all(r.pagerduty_routing_key_env for r in config.routes.values())


def episode(store: AuditStore, partition: str):
    (only,) = store.episodes(metric="m", date=partition)
    return only


def test_alerts_of_channels_that_were_down_are_delivered_once_on_the_next_tick(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    mail_before, pd_before = len(messages(sinks.mail)), len(sinks.pd_events())

    assert alert_failure(failure("2024-06-04"), [("r", ROUTE)], sinks.down(), store)
    assert len(messages(sinks.mail)) == mail_before and len(sinks.pd_events()) == pd_before  # nothing got through
    first = episode(store, "2024-06-04")
    assert first.delivered == [] and len(first.undelivered) == 2
    assert all("pending, 1 attempt" in u for u in first.undelivered)

    report = deliver_pending(sinks.settings(), store, "test", "m")  # the next tick, channels back
    deliver_pending(sinks.settings(), store, "test", "m")  # and the one after: nothing left

    assert (report.delivered, report.pending) == (2, 0)
    new_mail = messages(sinks.mail)[mail_before:]
    assert len(new_mail) == 1 and b"m 2024-06-04 failed at m__clean" in new_mail[0].read_bytes()
    key = dedup_key("test", "m", "2024-06-04", "m__clean")
    events = sinks.pd_events()[pd_before:]
    assert [(e["event_action"], e["dedup_key"], e["routing_key"]) for e in events] == [("trigger", key, "routing-key-1")]
    after = episode(store, "2024-06-04")
    assert (after.state, sorted(after.delivered), after.undelivered) == (
        "open", ["trigger email:r", "trigger pagerduty:r"], []
    )


def test_the_next_failure_of_an_open_episode_delivers_what_the_first_could_not(sinks, store, monkeypatch):
    """Down for one failure, back for the next: the episode's one e-mail and one page go out then."""
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    mail_before, pd_before = len(messages(sinks.mail)), len(sinks.pd_events())

    assert alert_failure(failure("2024-06-05"), [("r", ROUTE)], sinks.down(), store)
    assert not alert_failure(failure("2024-06-05"), [("r", ROUTE)], sinks.settings(), store)  # same episode
    assert not alert_failure(failure("2024-06-05"), [("r", ROUTE)], sinks.settings(), store)

    assert len(messages(sinks.mail)) == mail_before + 1
    assert [e["event_action"] for e in sinks.pd_events()[pd_before:]] == ["trigger"]


def test_a_resolve_while_pagerduty_is_down_is_delivered_later(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    key = dedup_key("test", "m", "2024-06-06", "m__clean")
    pd_before = len(sinks.pd_events())
    alert_failure(failure("2024-06-06"), [("r", ROUTE)], sinks.settings(), store)

    assert resolve_partition("test", "m", "2024-06-06", [("r", ROUTE)], sinks.down(), store) == [key]
    assert [e["event_action"] for e in sinks.pd_events()[pd_before:]] == ["trigger"]
    assert "resolve pagerduty:r (pending, 1 attempt" in episode(store, "2024-06-06").undelivered[0]

    deliver_pending(sinks.settings(), store, "test", "m")

    assert [(e["event_action"], e["dedup_key"]) for e in sinks.pd_events()[pd_before:]] == [
        ("trigger", key), ("resolve", key),
    ]
    resolved = episode(store, "2024-06-06")
    assert resolved.state == "resolved" and resolved.undelivered == []
    assert sorted(resolved.delivered) == ["resolve pagerduty:r", "trigger email:r", "trigger pagerduty:r"]


def test_an_episode_resolved_before_its_page_went_out_sends_no_page_but_its_email(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    mail_before, pd_before = len(messages(sinks.mail)), len(sinks.pd_events())
    alert_failure(failure("2024-06-07"), [("r", ROUTE)], sinks.down(), store)

    resolve_partition("test", "m", "2024-06-07", [("r", ROUTE)], sinks.settings(), store)

    assert sinks.pd_events()[pd_before:] == []  # neither a trigger nor a resolve for an episode already over
    assert len(messages(sinks.mail)) == mail_before + 1  # the failure is still told by e-mail
    over = episode(store, "2024-06-07")
    assert over.delivered == ["trigger email:r"]
    assert [u.split(" (")[0] for u in over.undelivered] == ["trigger pagerduty:r"] and "superseded" in over.undelivered[0]


def test_a_rejected_alert_is_not_retried_and_says_why(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    alert_failure(failure("2024-06-08"), [("r", ROUTE)], sinks.down(), store)
    monkeypatch.delenv("TEST_PD_KEY")  # the variable went away before the retry

    report = deliver_pending(sinks.settings(), store, "test", "m")

    assert (report.delivered, report.failed) == (1, 1)
    (page,) = episode(store, "2024-06-08").undelivered
    assert "failed, 2 attempts" in page and "TEST_PD_KEY is not set" in page
    assert deliver_pending(sinks.settings(), store, "test", "m").failed == 0  # not tried again


def test_an_episode_opened_without_its_alerts_queued_gets_them_at_its_next_failure(sinks, store, monkeypatch):
    """The process stopped between opening the episode and queueing its alerts (or the episode
    was opened before the outbox existed): the next failure sends them, once."""
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    mail_before, pd_before = len(messages(sinks.mail)), len(sinks.pd_events())
    key = dedup_key("test", "m", "2024-06-09", "m__clean")
    assert store.open_incident(dedup_key=key, environment="test", metric="m", partition="2024-06-09",
                               node="m__clean", run_id="run-0")

    assert not alert_failure(failure("2024-06-09"), [("r", ROUTE)], sinks.settings(), store)
    assert not alert_failure(failure("2024-06-09"), [("r", ROUTE)], sinks.settings(), store)

    assert len(messages(sinks.mail)) == mail_before + 1
    assert [e["event_action"] for e in sinks.pd_events()[pd_before:]] == ["trigger"]


def test_an_episode_from_before_the_outbox_is_still_resolved(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    pd_before = len(sinks.pd_events())
    key = dedup_key("test", "m", "2024-06-10", "m__clean")
    store.open_incident(dedup_key=key, environment="test", metric="m", partition="2024-06-10",
                        node="m__clean", run_id="run-0")

    assert resolve_partition("test", "m", "2024-06-10", [("r", ROUTE)], sinks.settings(), store) == [key]

    assert [(e["event_action"], e["dedup_key"]) for e in sinks.pd_events()[pd_before:]] == [("resolve", key)]


def test_the_email_subject_and_the_pagerduty_summary_say_why(sinks, store, monkeypatch):
    from email import message_from_bytes, policy

    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    cause = "m/sourcing/stores has no data for partition 2024-06-14; run: metricdag run --metric m --date 2024-06-14"
    mail_before, pd_before = len(messages(sinks.mail)), len(sinks.pd_events())

    assert alert_failure(Failure("test", "m", "2024-06-14", "m__clean", "run-2", f"{cause}\nmore detail"),
                         [("r", ROUTE)], sinks.settings(), store)

    mail = message_from_bytes(messages(sinks.mail)[mail_before].read_bytes(), policy=policy.default)
    assert " ".join(mail["Subject"].split()) == f"[test] m 2024-06-14 failed at m__clean: {cause}"
    assert f"cause: {cause}" in mail.get_content()
    event = sinks.pd_events()[pd_before]
    assert event["payload"]["summary"] == f"[test] m 2024-06-14 failed at m__clean: {cause}"
    assert event["payload"]["custom_details"]["reason"].startswith(cause)


def pd_incidents(sinks: Sinks, key: str) -> list[dict]:
    return [i for i in requests.get(sinks.pagerduty_url + "/incidents", timeout=5).json() if i["dedup_key"] == key]


def test_failures_of_one_check_on_consecutive_partitions_page_once_and_say_how_many(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    node, mail_before = "m__review__range_net_sales", len(messages(sinks.mail))
    key = dedup_key("test", "m", "2024-06-20", node)
    routes = [("r", ROUTE)]

    assert alert_failure(failure("2024-06-20", node), routes, sinks.settings(), store)
    assert not alert_failure(failure("2024-06-21", node), routes, sinks.settings(), store)
    assert not alert_failure(failure("2024-06-22", node), routes, sinks.settings(), store)
    assert not alert_failure(failure("2024-06-21", node), routes, sinks.settings(), store)  # a retry of one of them

    (incident,) = pd_incidents(sinks, key)  # one page: the later triggers were deduplicated into it
    assert incident["status"] == "triggered" and incident["alerts"] == 3
    assert "m 2024-06-20..2024-06-22 (3 partitions) failed at m__review__range_net_sales" in incident["summary"]
    assert len(messages(sinks.mail)) == mail_before + 1  # one mail, when the episode opened
    (grouped,) = store.episodes(metric="m", date="2024-06-22")
    assert grouped.dedup_key == key and grouped.partitions == ["2024-06-20", "2024-06-21", "2024-06-22"]

    # not consecutive, or another check: an episode of its own, which pages
    assert alert_failure(failure("2024-06-25", node), routes, sinks.settings(), store)
    assert alert_failure(failure("2024-06-21", "m__review__not_null"), routes, sinks.settings(), store)
    assert len(pd_incidents(sinks, dedup_key("test", "m", "2024-06-25", node))) == 1

    # the episode resolves once every partition it spans has succeeded again
    assert resolve_partition("test", "m", "2024-06-20", routes, sinks.settings(), store) == []
    assert resolve_partition("test", "m", "2024-06-22", routes, sinks.settings(), store) == []
    assert pd_incidents(sinks, key)[0]["status"] == "triggered"
    assert resolve_partition("test", "m", "2024-06-21", routes, sinks.settings(), store) == [
        key, dedup_key("test", "m", "2024-06-21", "m__review__not_null")]
    assert pd_incidents(sinks, key)[0]["status"] == "resolved"


def test_an_episode_update_waits_for_its_trigger_and_is_dropped_once_resolved(sinks, store, monkeypatch):
    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    node, routes = "m__review__waits", [("r", ROUTE)]
    key = dedup_key("test", "m", "2024-07-01", node)
    assert alert_failure(failure("2024-07-01", node), routes, sinks.down(), store)
    assert not alert_failure(failure("2024-07-02", node), routes, sinks.down(), store)
    assert pd_incidents(sinks, key) == []
    for day in ("2024-07-01", "2024-07-02"):
        resolve_partition("test", "m", day, routes, sinks.down(), store)
    deliver_pending(sinks.settings(), store, "test", "m")  # PagerDuty is back
    # resolved before PagerDuty heard of it, so nothing is sent: not the trigger, the update, a resolve
    assert pd_incidents(sinks, key) == []
    (episode_,) = store.episodes(metric="m", date="2024-07-02")
    assert episode_.state == "resolved" and not any("pagerduty" in d for d in episode_.delivered)
