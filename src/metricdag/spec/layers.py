"""The layers of a metric, in order: every asset key is ``<metric>/<layer>/<dataset>``."""

from __future__ import annotations

SOURCING = "sourcing"
PREPROCESSING = "preprocessing"
METRIC_CALCULATION = "metric_calculation"
REVIEW = "review"
PERSISTED = "persisted"

LAYERS = (SOURCING, PREPROCESSING, METRIC_CALCULATION, REVIEW, PERSISTED)
NODE_LAYERS = (PREPROCESSING, METRIC_CALCULATION)
"""The layers whose assets are nodes (metric.yaml's ``preprocessing:`` and ``metric_calculation:``)."""
