"""What the run-status sensors do with a failure or a success: one episode pages once.

Every alert goes through the outbox of the audit store (``AlertDelivery``): one row per episode,
action (trigger, resolve), channel and route. An alert counts as sent only once delivered; what a
channel that is down did not take stays pending and is retried on the next tick
(:func:`deliver_pending`, from the outbox sensor, and from the next failure or success of the
metric). A channel being down never raises.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from metricdag.alerting.email import send_email
from metricdag.alerting.episodes import Failure, email_body, failure_key, span, summary
from metricdag.alerting.pagerduty import event_body, send_event
from metricdag.alerting.routes import Route
from metricdag.audit.models import AlertDelivery, Incident
from metricdag.audit.store import AuditStore, NewDelivery
from metricdag.retries import describe, is_transient
from metricdag.settings import AlertingSettings

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """An alert that cannot be sent as it is (a permanent error)."""


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    pending: int = 0  # tried and still to be retried
    failed: int = 0  # permanent errors


# ----------------------------------------------------------------------- messages


def trigger_deliveries(failure: Failure, routes: list[tuple[str, Route]]) -> list[NewDelivery]:
    """An e-mail and a PagerDuty trigger per route (none where the routing key's variable is not
    set: see :func:`unset_routing_keys`). The routing key is not stored, only the name of its
    variable (read when sending)."""
    key = failure_key(failure)
    out: list[NewDelivery] = []
    for name, route in routes:
        if route.email:
            out.append(NewDelivery("trigger", "email", name, {
                "recipients": list(route.email), "subject": summary(failure), "body": email_body(failure),
            }))
        if route.pagerduty_routing_key_env and route.routing_key():
            body = event_body("trigger", "", key, summary=summary(failure), severity=route.severity,
                              details={"run_id": failure.run_id, "reason": failure.reason[:2000]})
            out.append(NewDelivery("trigger", "pagerduty", name, _pagerduty_message(route, body)))
    return out


def update_deliveries(failure: Failure, partitions: list[str], routes: list[tuple[str, Route]]) -> list[NewDelivery]:
    """The PagerDuty event that tells an open episode it now spans ``partitions``: a trigger with
    the episode's dedup key, which PagerDuty adds to the open incident instead of paging again.
    No e-mail: the episode was mailed when it opened."""
    key = dedup_key_of(failure, partitions)
    out: list[NewDelivery] = []
    for name, route in routes:
        if route.pagerduty_routing_key_env and route.routing_key():
            body = event_body("trigger", "", key, summary=summary(failure, partitions), severity=route.severity,
                              details={"run_id": failure.run_id, "partitions": partitions,
                                       "reason": failure.reason[:2000]})
            out.append(NewDelivery(f"update-{len(partitions)}", "pagerduty", name, _pagerduty_message(route, body)))
    return out


def dedup_key_of(failure: Failure, partitions: list[str]) -> str:
    """An episode's dedup key is the one of its first failure."""
    return failure_key(Failure(failure.environment, failure.metric, partitions[0], failure.node, "", ""))


def unset_routing_keys(routes: list[tuple[str, Route]]) -> list[str]:
    return [
        f"route {name}: {route.pagerduty_routing_key_env} is not set; no PagerDuty trigger"
        for name, route in routes if route.pagerduty_routing_key_env and not route.routing_key()
    ]


def _pagerduty_message(route: Route, body: dict) -> dict:
    body = {k: v for k, v in body.items() if k != "routing_key"}
    return {"routing_key_env": route.pagerduty_routing_key_env, "event": body}


def send(delivery: AlertDelivery, settings: AlertingSettings) -> None:
    message = delivery.message
    if delivery.channel == "email":
        send_email(settings, message["recipients"], message["subject"], message["body"])
    elif delivery.channel == "pagerduty":
        variable = message["routing_key_env"]
        routing_key = os.environ.get(variable)
        if not routing_key:
            raise DeliveryError(f"{variable} is not set")
        send_event(settings, {**message["event"], "routing_key": routing_key})
    else:
        raise DeliveryError(f"unknown channel {delivery.channel!r}")


# ----------------------------------------------------------------------- delivery


def deliver_pending(
    settings: AlertingSettings | None, store: AuditStore, environment: str, metric: str,
    logger: logging.Logger | None = None,
) -> DeliveryReport:
    """Try every pending delivery of the metric once, oldest first. A channel that fails with a
    transient error (down) is not tried again in this pass; a delivery waits while an earlier one
    of its episode, channel and route is pending (a resolve never overtakes its trigger)."""
    logger = logger or log
    if settings is None:
        return DeliveryReport()
    delivered = pending = failed = 0
    down: set[str] = set()
    for d in store.claim_pending(environment, metric):
        if d.channel in down or store.waits_for_earlier(d):
            store.release(d.id)
            pending += 1
            continue
        channel = "email" if d.channel == "email" else f"PagerDuty {d.action}"
        what = f"{channel} via route {d.route}"
        episode = f"{d.action} of {d.dedup_key}, attempt {d.attempts + 1}"
        try:
            send(d, settings)
        except Exception as exc:  # a channel being down never fails the caller
            permanent = isinstance(exc, DeliveryError) or not is_transient(exc)
            store.finish_delivery(d.id, describe(exc), permanent=permanent)
            if permanent:
                failed += 1
                logger.warning(f"alert channel: {what} failed ({episode}), not retried: {describe(exc)}")
            else:
                down.add(d.channel)
                pending += 1
                logger.warning(f"alert channel: {what} failed ({episode}), retried on the next tick: "
                               f"{describe(exc)}")
        else:
            store.finish_delivery(d.id)
            delivered += 1
            logger.info(f"alert: {what} delivered ({episode})")
    return DeliveryReport(delivered, pending, failed)


# ---------------------------------------------------------------------- episodes


def alert_failure(
    failure: Failure, routes: list[tuple[str, Route]], settings: AlertingSettings | None, store: AuditStore,
    logger: logging.Logger | None = None,
) -> bool:
    """Open the episode and queue its alerts (every route); then deliver what is pending.
    True when this opened a new episode; False when the failure belongs to one already open: the
    same partition again (its alerts are not sent again, but what it has not delivered yet is tried
    again), or a partition next to one the node's open episode spans (the episode grows; PagerDuty
    hears how many partitions it spans now, nobody is paged again)."""
    logger = logger or log
    key = failure_key(failure)
    joined = store.join_episode(environment=failure.environment, metric=failure.metric,
                                partition=failure.partition, node=failure.node, run_id=failure.run_id)
    if joined is not None:
        incident, partitions = joined
        if settings is None:
            return False
        if len(partitions) > 1:
            logger.info(f"alert {incident.dedup_key}: {failure.partition} joins the open episode, which now spans "
                        f"{span(partitions)}; not paging again")
            store.enqueue(incident, update_deliveries(failure, partitions, routes))
        else:
            logger.info(f"alert {key}: already open, not paging again (undelivered alerts are retried)")
        # Queued every time: what the episode holds already is kept as it is (delivered alerts are
        # not sent again), and nothing is lost should the process stop after the opening.
        store.enqueue(incident, trigger_deliveries(_first(failure, incident), routes))
        deliver_pending(settings, store, failure.environment, failure.metric, logger)
        return False
    opened = store.open_incident(dedup_key=key, environment=failure.environment, metric=failure.metric,
                                 partition=failure.partition, node=failure.node, run_id=failure.run_id)
    if settings is None:
        logger.warning(f"alert {key}: this environment has no alerting: section")
        return opened
    for warning in unset_routing_keys(routes):
        logger.warning(warning)
    store.enqueue(store.incident(key), trigger_deliveries(failure, routes))
    deliver_pending(settings, store, failure.environment, failure.metric, logger)
    return opened


def _first(failure: Failure, incident: Incident) -> Failure:
    """The failure as the episode's opening alert described it (its partition and run)."""
    if incident.partition == failure.partition:
        return failure
    return Failure(failure.environment, failure.metric, incident.partition, failure.node, incident.run_id,
                   failure.reason)


def resolve_partition(
    environment: str, metric: str, partition: str, routes: list[tuple[str, Route]],
    settings: AlertingSettings | None, store: AuditStore, logger: logging.Logger | None = None,
) -> list[str]:
    """``partition`` succeeded: resolve every open episode it was the last failing partition of;
    returns their dedup keys. An episode that spans other partitions still failing stays open.
    A PagerDuty ``resolve`` goes (through the outbox) to each route whose trigger was delivered;
    a trigger still undelivered is dropped instead (PagerDuty never heard of the episode)."""
    logger = logger or log
    keys = []
    for incident in store.open_incidents(environment, metric, partition):
        failing = store.resolve_partition(incident, partition)
        if failing:
            logger.info(f"alert {incident.dedup_key}: {partition} succeeded; the episode stays open for "
                        f"{span(failing)}")
            continue
        if settings is not None:
            store.enqueue(incident, resolve_deliveries(incident, routes, store, logger))
        keys.append(incident.dedup_key)
    if settings is not None:
        deliver_pending(settings, store, environment, metric, logger)
    return keys


def resolve_deliveries(
    incident: Incident, routes: list[tuple[str, Route]], store: AuditStore, logger: logging.Logger
) -> list[NewDelivery]:
    dropped = set(store.supersede(incident.dedup_key, incident.opened_at, "trigger", "pagerduty"))
    store.supersede(incident.dedup_key, incident.opened_at, "update-%", "pagerduty")  # moot once resolved
    for name in sorted(dropped):
        logger.info(f"alert {incident.dedup_key}: PagerDuty trigger via route {name} never delivered; "
                    "resolved before it was, so no resolve is sent either")
    rows = store.deliveries(incident.dedup_key, incident.opened_at)
    # delivered, or held by a sender right now (it may be going out; the resolve waits for it)
    paged = {d.route for d in rows if d.action == "trigger" and d.channel == "pagerduty"
             and d.status in ("delivered", "pending")}
    before_outbox = not rows  # an episode opened before alerts went through the outbox
    out = []
    for name, route in routes:
        if route.pagerduty_routing_key_env and (name in paged or (before_outbox and route.routing_key())):
            body = event_body("resolve", "", incident.dedup_key)
            out.append(NewDelivery("resolve", "pagerduty", name, _pagerduty_message(route, body)))
    return out
