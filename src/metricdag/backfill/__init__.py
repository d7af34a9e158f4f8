"""``metricdag backfill``: recompute a range of partitions into staging, gate, publish at once."""
