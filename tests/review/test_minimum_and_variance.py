"""daily_minimum, variance and the accepted history they compare against, as pure functions."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from metricdag.io.layout import file_name, partition_prefix
from metricdag.io.objectstore import LocalObjectStore, join_uri
from metricdag.io.parquet import to_parquet_bytes
from metricdag.review.checks import daily_minimum, deviation_pct, variance
from metricdag.review.history import accepted_history, partition_reader, window_days
from metricdag.review.measures import MeasureError, measure
from metricdag.spec.models import DailyMinimumCheck, VarianceCheck

FRAME = pd.DataFrame({"store_id": ["S1", "S2", "S3"], "net": [10.0, 20.0, None], "label": ["a", "b", "c"]})


@pytest.mark.parametrize(
    ("spec", "value"), [("row_count", 3.0), ("sum:net", 30.0), ("min:net", 10.0), ("max:net", 20.0), ("mean:net", 15.0)]
)
def test_measure(spec, value):
    assert measure(FRAME, spec) == value


def test_measure_of_no_rows():
    empty = FRAME.iloc[0:0]
    assert measure(empty, "row_count") == 0 and measure(empty, "sum:net") == 0
    assert math.isnan(measure(empty, "min:net"))


def test_measure_names_the_missing_column_and_dataset():
    with pytest.raises(MeasureError, match=r"dataset 'net_sales_daily' has no column 'net_usd' \(columns: store_id, net, label\)"):
        measure(FRAME, "sum:net_usd", "net_sales_daily")
    with pytest.raises(MeasureError, match=r"column 'label' of dataset 'd' is \w+, not numeric"):
        measure(FRAME, "sum:label", "d")


def minimum(value: float, severity: str = "error") -> DailyMinimumCheck:
    return DailyMinimumCheck(type="daily_minimum", measure="sum:net", min=value, severity=severity)


def test_daily_minimum_passes_at_and_above_the_floor_only():
    assert daily_minimum(FRAME, minimum(30)).passed
    assert daily_minimum(FRAME, minimum(29.99)).passed
    outcome = daily_minimum(FRAME, minimum(30.01))
    assert not outcome.passed
    assert outcome.description == "sum:net = 30, below the daily minimum 30.01"
    assert outcome.metadata == {"measure": "sum:net", "value": 30.0, "min": 30.01}


def test_daily_minimum_of_nothing_fails():
    check = DailyMinimumCheck(type="daily_minimum", measure="min:net", min=0)
    outcome = daily_minimum(FRAME.iloc[0:0], check)
    assert not outcome.passed and "no value" in outcome.description


def check(pct: float = 50, window: int = 7, min_history: int = 3) -> VarianceCheck:
    return VarianceCheck(type="variance", measure="sum:net", window=window, max_deviation_pct=pct, min_history=min_history)


@pytest.mark.parametrize(
    ("value", "passed"), [(100, True), (150, True), (50, True), (150.01, False), (49.99, False), (500, False), (0, False)]
)
def test_variance_bounds_are_inclusive_both_ways(value, passed):
    assert variance(value, [90, 100, 110], check(50)).passed is passed


def test_variance_describes_value_average_deviation_threshold_and_days():
    outcome = variance(500, [90, 100, 110], check(50))

    assert outcome.description == (
        "sum:net = 500, 400.0% above the average 100 of 3 accepted day(s): outside the allowed 50%"
    )
    assert outcome.metadata["average"] == 100 and outcome.metadata["deviation_pct"] == 400
    assert outcome.metadata["history_days"] == 3 and outcome.metadata["window"] == 7
    assert "below" in variance(10, [90, 100, 110], check(50)).description


def test_too_little_history_passes_with_a_note():
    outcome = variance(10_000, [100, 100], check(min_history=3))

    assert outcome.passed
    assert "only 2 accepted day(s)" in outcome.description and "needs 3" in outcome.description
    assert outcome.metadata["average"] is None


def test_zero_average():
    assert deviation_pct(0, 0) == 0 and math.isinf(deviation_pct(1, 0))
    assert variance(0, [0, 0, 0], check()).passed
    assert not variance(5, [0, 0, 0], check()).passed


def test_history_is_the_window_before_the_day_and_skips_missing_days():
    day = date(2024, 6, 10)
    assert window_days(day, 3) == [date(2024, 6, 7), date(2024, 6, 8), date(2024, 6, 9)]

    accepted = {date(2024, 6, 7): 7.0, date(2024, 6, 9): 9.0, day: 1000.0}  # the 8th was rejected
    read = lambda d: pd.DataFrame({"net": [accepted[d]]}) if d in accepted else None  # noqa: E731
    points = accepted_history(read, day, 3, "sum:net", "d")

    assert [(p.day, p.value) for p in points] == [(date(2024, 6, 7), 7.0), (date(2024, 6, 9), 9.0)]


def test_partition_reader_reads_the_io_manager_layout(tmp_path):
    store, base = LocalObjectStore(), f"file://{tmp_path}"
    path = ["m", "review", "d"]
    for key, total in (("2024-06-01", 5.0), ("2024-06-02", 6.0)):
        prefix = partition_prefix(base, "local", path, key)
        store.put_bytes(join_uri(prefix, file_name("run", 1)), to_parquet_bytes(pd.DataFrame({"net": [total]})))

    read = partition_reader(store, base, "local", path)

    assert read(date(2024, 6, 3)) is None
    assert [p.value for p in accepted_history(read, date(2024, 6, 3), 7, "sum:net", "d")] == [5.0, 6.0]
