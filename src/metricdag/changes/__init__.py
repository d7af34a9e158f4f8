"""Changing a metric: what a new definition does to the published numbers (``metricdag diff``)."""
