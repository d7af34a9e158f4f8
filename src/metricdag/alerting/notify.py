"""What the run-status sensors do with a failure or a success: one episode pages once."""

from __future__ import annotations

import logging

from metricdag.alerting.email import send_email
from metricdag.alerting.episodes import Failure, email_body, failure_key, summary
from metricdag.alerting.pagerduty import event_body, send_event
from metricdag.alerting.routes import Route
from metricdag.audit.store import AuditStore
from metricdag.settings import AlertingSettings

log = logging.getLogger(__name__)


def alert_failure(
    failure: Failure, routes: list[tuple[str, Route]], settings: AlertingSettings | None, store: AuditStore,
    logger: logging.Logger | None = None,
) -> bool:
    """Open the episode and alert every route; False (nothing sent) when it is already open.
    A channel that is down is a warning: it never raises."""
    logger = logger or log
    key = failure_key(failure)
    if not store.open_incident(dedup_key=key, environment=failure.environment, metric=failure.metric,
                               partition=failure.partition, node=failure.node, run_id=failure.run_id):
        logger.info(f"alert {key}: already open, not paging again")
        return False
    if settings is None:
        logger.warning(f"alert {key}: this environment has no alerting: section")
        return True
    for name, route in routes:
        if route.email:
            _try(logger, f"email via route {name}", send_email, settings, route.email, summary(failure), email_body(failure))
        routing_key = route.routing_key()
        if route.pagerduty_routing_key_env and not routing_key:
            logger.warning(f"route {name}: {route.pagerduty_routing_key_env} is not set; no PagerDuty trigger")
        if routing_key:
            body = event_body("trigger", routing_key, key, summary=summary(failure), severity=route.severity,
                              details={"run_id": failure.run_id, "reason": failure.reason[:2000]})
            _try(logger, f"PagerDuty trigger via route {name}", send_event, settings, body)
    return True


def resolve_partition(
    environment: str, metric: str, partition: str, routes: list[tuple[str, Route]],
    settings: AlertingSettings | None, store: AuditStore, logger: logging.Logger | None = None,
) -> list[str]:
    """Resolve every open episode of the partition; returns their dedup keys."""
    logger = logger or log
    keys = []
    for incident in store.open_incidents(environment, metric, partition):
        if settings is not None:
            for name, route in routes:
                routing_key = route.routing_key()
                if routing_key:
                    _try(logger, f"PagerDuty resolve via route {name}", send_event, settings,
                         event_body("resolve", routing_key, incident.dedup_key))
        store.resolve_incident(incident.dedup_key)
        keys.append(incident.dedup_key)
    return keys


def _try(logger: logging.Logger, what: str, fn, *args) -> bool:
    try:
        fn(*args)
        return True
    except Exception as exc:  # a channel being down never fails the caller
        logger.warning(f"alert channel: {what} failed: {type(exc).__name__}: {exc}")
        return False
