"""Lineage: where a published number comes from, and why it changed.

* :mod:`metricdag.lineage.collect` reads what a run used (input row counts, review results) from
  its Dagster event log, for the persister's publication record;
* :mod:`metricdag.lineage.explain` turns publication records (and the published rows) into an
  explanation or a comparison: pure functions;
* :mod:`metricdag.lineage.cli` is ``metricdag explain``.
"""
