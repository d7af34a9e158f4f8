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
from metricdag.alerting.notify import alert_failure, resolve_partition
from metricdag.alerting.routes import AlertingConfig, Route, routes_for
from metricdag.audit.store import AuditStore
from metricdag.localstack.processes import free_port, start_process, stop_process_group, wait_for_port
from metricdag.localstack.smtp_sink import messages
from metricdag.settings import AlertingSettings

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


@pytest.fixture(scope="module")
def sinks(tmp_path_factory) -> Iterator[Sinks]:
    root = tmp_path_factory.mktemp("sinks")
    smtp_port, pd_port = free_port(), free_port()
    procs = [
        start_process("smtp", [sys.executable, "-m", "metricdag.localstack.smtp_sink", "--dir", str(root / "mail"),
                               "--port", str(smtp_port)], root / "smtp.log"),
        start_process("pagerduty", [sys.executable, "-m", "metricdag.localstack.pagerduty_receiver", "--dir",
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


def test_the_email_subject_and_the_pagerduty_summary_say_why(sinks, store, monkeypatch):
    from email import message_from_bytes, policy

    monkeypatch.setenv("TEST_PD_KEY", "routing-key-1")
    cause = "m/sourcing/stores has no data for partition 2024-06-04; run: metricdag run --metric m --date 2024-06-04"
    mail_before, pd_before = len(messages(sinks.mail)), len(sinks.pd_events())

    assert alert_failure(Failure("test", "m", "2024-06-04", "m__clean", "run-2", f"{cause}\nmore detail"),
                         [("r", ROUTE)], sinks.settings(), store)

    mail = message_from_bytes(messages(sinks.mail)[mail_before].read_bytes(), policy=policy.default)
    assert " ".join(mail["Subject"].split()) == f"[test] m 2024-06-04 failed at m__clean: {cause}"
    assert f"cause: {cause}" in mail.get_content()
    event = sinks.pd_events()[pd_before]
    assert event["payload"]["summary"] == f"[test] m 2024-06-04 failed at m__clean: {cause}"
    assert event["payload"]["custom_details"]["reason"].startswith(cause)
