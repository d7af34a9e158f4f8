"""``pipeline-configs/alerting.yaml``: named routes, and which routes a metric alerts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SEVERITIES = ("critical", "error", "warning", "info")


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: list[str] = Field(default_factory=list, description="recipients")
    pagerduty_routing_key_env: str | None = Field(
        default=None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="NAME of the variable holding the routing key"
    )
    severity: Literal["critical", "error", "warning", "info"] = "error"

    def routing_key(self) -> str | None:
        return os.environ.get(self.pagerduty_routing_key_env) if self.pagerduty_routing_key_env else None


class AlertingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: dict[str, Route] = Field(default_factory=dict)
    default_routes: list[str] = Field(default_factory=list, description="for metrics that name none")
    metrics: dict[str, list[str]] = Field(default_factory=dict, description="metric -> route names")


def load_alerting_config(project_root: Path) -> AlertingConfig:
    from metricdag.yamlio import load_model

    path = project_root / "pipeline-configs" / "alerting.yaml"
    return load_model(AlertingConfig, path) if path.is_file() else AlertingConfig()


def routes_for(config: AlertingConfig, metric: str, metric_routes: list[str] | None = None) -> list[tuple[str, Route]]:
    """metric.yaml's ``alert_routes``, else alerting.yaml's ``metrics:`` entry, else the defaults.
    Unknown names are skipped (``metricdag validate`` reports them)."""
    names = list(metric_routes or []) or config.metrics.get(metric) or config.default_routes
    return [(n, config.routes[n]) for n in names if n in config.routes]
