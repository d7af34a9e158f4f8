"""metricdag's Dagster components (the ``dg`` component library: ``dg list components``)."""

from metricdag.components.metric import MetricComponent, metric_location

__all__ = ["MetricComponent", "metric_location"]
