from pathlib import Path

from metricdag.factory import build_metric_definitions

defs = build_metric_definitions(Path(__file__).parent)
