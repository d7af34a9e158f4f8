from metricdag.factory.build import build_metric_definitions, job_name, location_definitions, metric_definitions

__all__ = ["build_metric_definitions", "job_name", "location_definitions", "metric_definitions"]
