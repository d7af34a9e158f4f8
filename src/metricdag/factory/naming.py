"""How generated assets are named for people: group names and descriptions (pure functions).

Groups are per metric and layer (``daily_net_sales__sourcing``), so the global asset graph of
a workspace with many metrics shows one box per metric and layer instead of merging every
metric's layer into one. Every asset gets a description: what the asset is, then the metric
it belongs to (its ``description`` from ``metric.yaml``).
"""

from __future__ import annotations

from metricdag.spec.loader import Metric


def group_name(metric: str, layer: str) -> str:
    """``<metric>__<layer>``: a valid Dagster group name (metric and layer are lower_snake_case)."""
    return f"{metric}__{layer}"


def metric_line(metric: Metric) -> str:
    text = " ".join(metric.spec.description.split())
    return f"Metric `{metric.name}`: {text}" if text else f"Metric `{metric.name}` (owner {metric.spec.owner})."


def asset_description(metric: Metric, what: str) -> str:
    """``what`` the asset is, then the metric it belongs to (Markdown, as the UI renders it)."""
    what = " ".join(what.split())
    return f"{what}\n\n{metric_line(metric)}"
