"""Which partitions one failure episode spans, and how its alert says so (pure)."""

from __future__ import annotations

import pytest

from metricdag.alerting.episodes import Failure, joins_episode, span, summary


@pytest.mark.parametrize(("partition", "partitions", "joins"), [
    ("2024-06-03", ["2024-06-03"], True),  # the same partition again
    ("2024-06-04", ["2024-06-02", "2024-06-03"], True),  # the next day
    ("2024-06-01", ["2024-06-02", "2024-06-03"], True),  # the day before (a backfill, newest first)
    ("2024-06-05", ["2024-06-02", "2024-06-03"], False),  # a gap: a new episode
    ("2024-03-01", ["2024-02-29"], True),  # across a month end
    ("region-eu", ["region-us"], False),  # not daily partitions: only the same one joins
])
def test_a_failure_joins_the_episode_of_a_neighbouring_partition(partition, partitions, joins):
    assert joins_episode(partition, partitions) is joins


def test_the_summary_of_an_episode_says_how_many_partitions_it_spans():
    failure = Failure("prod", "daily_net_sales", "2024-06-02", "daily_net_sales__review__range", "r1", "3 rows out of range\n...")
    assert summary(failure) == "[prod] daily_net_sales 2024-06-02 failed at daily_net_sales__review__range: 3 rows out of range"
    assert span(["2024-06-03", "2024-06-01", "2024-06-02", "2024-06-02"]) == "2024-06-01..2024-06-03 (3 partitions)"
    assert summary(failure, ["2024-06-01", "2024-06-02"]).startswith(
        "[prod] daily_net_sales 2024-06-01..2024-06-02 (2 partitions) failed at")
