"""PagerDuty Events API v2: ``trigger`` and ``resolve`` by dedup key."""

from __future__ import annotations

from typing import Literal

import requests

from metricdag.settings import AlertingSettings


def event_body(
    action: Literal["trigger", "resolve"], routing_key: str, dedup_key: str, *,
    summary: str = "", severity: str = "error", source: str = "metricdag", details: dict | None = None,
) -> dict:
    body: dict = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        body["payload"] = {"summary": summary, "source": source, "severity": severity,
                           "custom_details": details or {}}
    return body


def send_event(settings: AlertingSettings, body: dict) -> None:
    response = requests.post(settings.pagerduty_events_url, json=body, timeout=settings.timeout_s)
    response.raise_for_status()
