"""The daily digest of warn-level findings, against the local SMTP sink (a real process on a free port)."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timezone

from metricdag.alerting.digest import queue_digest
from metricdag.alerting.notify import deliver_pending
from metricdag.alerting.routes import Route
from metricdag.review.checks import CheckOutcome
from metricdag.review.repository import evaluation
from metricdag.spec.models import DailyMinimumCheck, RangeCheck
from metricdag_localstack.smtp_sink import messages
from tests.alerting.test_notify import Sinks, sinks, store  # noqa: F401  (the fixtures)

MINIMUM = DailyMinimumCheck(type="daily_minimum", measure="sum:net", min=10, severity="warn")
RANGE = RangeCheck(type="range", column="net", min=0)
ROUTES = [("sales", Route(email=["sales@example.com"])), ("data", Route(email=["data@example.com", "dq@example.com"])),
          ("pager", Route(pagerduty_routing_key_env="NO_SUCH_KEY"))]


def record(store, partition: str, check, name: str, passed: bool, severity: str) -> None:
    store.record_evaluation(evaluation(
        environment="test", metric="m", dataset="d", name=name, check=check, partition=partition, run_id=f"r-{partition}",
        outcome=CheckOutcome(passed, f"{name} on {partition}: {'ok' if passed else 'below the daily minimum'}"),
        severity=severity, metric_version="v",
    ))


def test_warn_findings_of_a_day_go_out_in_one_mail_per_route_once(sinks: Sinks, store):
    for partition in ("2024-06-01", "2024-06-02", "2024-06-03"):
        record(store, partition, MINIMUM, "daily_minimum", passed=False, severity="warn")
    record(store, "2024-06-04", MINIMUM, "daily_minimum", passed=True, severity="warn")  # passed: not a finding
    record(store, "2024-06-04", RANGE, "range", passed=False, severity="error")  # blocking: paged, not digested
    today = datetime.now(timezone.utc).date()
    before = len(messages(sinks.mail))

    assert queue_digest(store, "test", "m", today, ROUTES) == 2  # the routes with recipients
    assert deliver_pending(sinks.settings(), store, "test", "m").delivered == 2
    assert queue_digest(store, "test", "m", today, ROUTES) == 0  # the next tick: already queued
    assert deliver_pending(sinks.settings(), store, "test", "m").delivered == 0

    parsed = [email.message_from_bytes(m.read_bytes(), policy=email.policy.default) for m in messages(sinks.mail)[before:]]
    mails = [f"To: {m['To']}\nSubject: {m['Subject']}\n{m.get_content()}" for m in parsed]
    assert len(mails) == 2
    assert sum("dq@example.com" in m for m in mails) == 1 and sum("sales@example.com" in m for m in mails) == 1
    for mail in mails:
        assert f"m: 3 warn-level review finding(s) on {today} (3 partition(s))" in mail
        assert "- 2024-06-01 d:daily_minimum: daily_minimum on 2024-06-01: below the daily minimum" in mail
        assert "2024-06-04" not in mail


def test_a_day_without_findings_sends_nothing(sinks: Sinks, store):
    record(store, "2024-06-01", MINIMUM, "daily_minimum", passed=True, severity="warn")
    assert queue_digest(store, "test", "m", datetime.now(timezone.utc).date(), ROUTES) == 0


def test_the_digest_sensor_mails_the_day_before_once(sinks: Sinks, tmp_path):
    from datetime import timedelta
    from pathlib import Path

    import dagster as dg
    from sqlalchemy import update

    from metricdag.audit.models import CheckEvaluation
    from metricdag.audit.sensors import run_sensors, warn_digest_sensor_name
    from metricdag.audit.store import audit_store_for
    from metricdag.settings import AuditSettings, load_environment
    from metricdag.spec.loader import load_metric

    repo = Path(__file__).resolve().parents[2]
    env = load_environment("local", repo).model_copy(update={
        "name": "digest-test", "alerting": sinks.settings(), "audit": AuditSettings(url=f"sqlite:///{tmp_path}/audit.db"),
    })
    metric = load_metric(repo / "metrics" / "daily_net_sales", repo)
    store = audit_store_for(env)
    store.record_evaluation(evaluation(
        environment=env.name, metric=metric.name, dataset="net_sales_daily", name="daily_minimum", check=MINIMUM,
        partition="2024-06-03", run_id="r1", outcome=CheckOutcome(False, "sum:net = 3, below the daily minimum 10"),
        severity="warn", metric_version="v",
    ))
    yesterday = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=1)
    with store.session() as s, s.begin():
        s.execute(update(CheckEvaluation).values(recorded_at=yesterday))
    job = dg.define_asset_job("daily_net_sales__daily")
    sensor = next(s for s in run_sensors(metric, env, job) if s.name == warn_digest_sensor_name(metric.name))
    before = len(messages(sinks.mail))

    for _ in range(2):  # two ticks: one mail
        sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral()))

    new = [email.message_from_bytes(m.read_bytes(), policy=email.policy.default) for m in messages(sinks.mail)[before:]]
    assert [m["To"] for m in new] == ["sales-analytics@example.com"]
    assert "below the daily minimum 10" in new[0].get_content()
