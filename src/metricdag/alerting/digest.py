"""The daily digest of warn-level findings: one e-mail per route and day, not one per finding.

A finding is a review check evaluation of ``severity: warn`` (declared, or a blocking check
running as warn until backtested) that failed, as the metrics repository recorded it. The digest
of a day goes through the alert outbox once per route (its key names the metric and day, so a
second tick queues nothing) and only when the day had findings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from metricdag.alerting.routes import Route
from metricdag.audit.models import CheckEvaluation, Incident
from metricdag.audit.store import AuditStore, NewDelivery

log = logging.getLogger(__name__)


def digest_key(environment: str, metric: str, day: date) -> str:
    return f"{environment}:{metric}:warn-digest:{day.isoformat()}"


def findings(store: AuditStore, environment: str, metric: str, day: date) -> list[CheckEvaluation]:
    """The failed warn-level evaluations recorded on ``day`` (UTC): the last per dataset, check
    and partition, by partition."""
    start = datetime.combine(day, time())
    last: dict[tuple[str, str, str], CheckEvaluation] = {}
    for e in store.evaluations_recorded(environment, metric, start, start + timedelta(days=1)):
        last[(e.dataset, e.check, e.partition)] = e
    return sorted((e for e in last.values() if e.severity == "warn" and not e.passed),
                  key=lambda e: (e.partition, e.dataset, e.check))


def digest_message(environment: str, metric: str, day: date, found: Sequence[CheckEvaluation]) -> tuple[str, str]:
    """Subject and body: every finding on one line."""
    partitions = sorted({e.partition for e in found})
    subject = (f"[{environment}] {metric}: {len(found)} warn-level review finding(s) on {day.isoformat()} "
               f"({len(partitions)} partition(s))")
    lines = [f"- {e.partition} {e.dataset}:{e.check}: {e.description}" for e in found]
    body = (f"{subject}\n\nThe warn-level review checks of {metric} that failed on {day.isoformat()} (UTC), "
            f"collected in one digest (nothing was blocked):\n\n" + "\n".join(lines) + "\n\n"
            f"metricdag review history {metric} --check NAME shows a check's evaluations.\n")
    return subject, body


def queue_digest(
    store: AuditStore, environment: str, metric: str, day: date, routes: list[tuple[str, Route]],
    logger: logging.Logger | None = None,
) -> int:
    """Queue the day's digest e-mail for every route with recipients; returns how many were
    added (0: no finding, or queued before)."""
    logger = logger or log
    found = findings(store, environment, metric, day)
    if not found:
        return 0
    subject, body = digest_message(environment, metric, day, found)
    episode = Incident(dedup_key=digest_key(environment, metric, day), environment=environment, metric=metric,
                       partition=day.isoformat(), node="warn digest", run_id="", opened_at=datetime.combine(day, time()))
    deliveries = [NewDelivery("digest", "email", name, {"recipients": list(route.email), "subject": subject, "body": body})
                  for name, route in routes if route.email]
    added = store.enqueue(episode, deliveries)
    if added:
        logger.info(f"warn digest of {metric} for {day}: {len(found)} finding(s) queued for {added} route(s)")
    return added
