"""``pipeline-configs/alerting.yaml``: named routes, and which routes a metric alerts."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from metricdag.errors import Problem
from metricdag.schema import StrictModel

ALERTING_FILE = Path("pipeline-configs") / "alerting.yaml"

SEVERITIES = ("critical", "error", "warning", "info")


class Route(StrictModel):
    email: list[str] = Field(default_factory=list, description="recipients")
    pagerduty_routing_key_env: str | None = Field(
        default=None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="NAME of the variable holding the routing key"
    )
    severity: Literal["critical", "error", "warning", "info"] = "error"

    def routing_key(self) -> str | None:
        return os.environ.get(self.pagerduty_routing_key_env) if self.pagerduty_routing_key_env else None


class AlertingConfig(StrictModel):
    routes: dict[str, Route] = Field(default_factory=dict)
    default_routes: list[str] = Field(default_factory=list, description="for metrics that name none")
    metrics: dict[str, list[str]] = Field(default_factory=dict, description="metric -> route names")


def load_alerting_config(project_root: Path) -> AlertingConfig:
    from metricdag.yamlio import load_model

    path = project_root / ALERTING_FILE
    return load_model(AlertingConfig, path) if path.is_file() else AlertingConfig()


def route_problems(config: AlertingConfig, tree: Any, path: Path | str, metrics: Collection[str]) -> list[Problem]:
    """``default_routes`` and ``metrics:`` entries naming a route that is not defined, and
    ``metrics:`` keys naming no metric, each at its line (``routes_for`` would skip them)."""
    from metricdag.yamlio import line_of, unknown_name

    def unknown_route(name: str) -> str:
        return unknown_name("alert route", name, config.routes, "routes")

    problems = [
        Problem(str(path), line_of(tree, ("default_routes", k)), "default_routes: " + unknown_route(name))
        for k, name in enumerate(config.default_routes)
        if name not in config.routes
    ]
    for metric, names in config.metrics.items():
        if metric not in metrics:
            problems.append(
                Problem(
                    str(path),
                    line_of(tree, ("metrics", metric)),
                    "metrics: " + unknown_name("metric", metric, metrics, "metrics"),
                )
            )
        for k, name in enumerate(names):
            if name not in config.routes:
                problems.append(
                    Problem(str(path), line_of(tree, ("metrics", metric, k)), f"metrics.{metric}: " + unknown_route(name))
                )
    return problems


def routes_for(config: AlertingConfig, metric: str, metric_routes: list[str] | None = None) -> list[tuple[str, Route]]:
    """metric.yaml's ``alert_routes``, else alerting.yaml's ``metrics:`` entry, else the defaults.
    Unknown names are skipped (``metricdag validate`` reports them)."""
    names = list(metric_routes or []) or config.metrics.get(metric) or config.default_routes
    return [(n, config.routes[n]) for n in names if n in config.routes]
