"""Metric versions: one short hash of everything that changes a metric's published numbers."""

from metricdag.versioning.metric_version import MetricVersion, VersionPart, metric_version

__all__ = ["MetricVersion", "VersionPart", "metric_version"]
