from metricdag.factory.build import build_metric_definitions, definitions_for, job_name

__all__ = ["build_metric_definitions", "definitions_for", "job_name"]
