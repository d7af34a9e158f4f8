"""The record-count review check: pass inside [min, max], fail outside, and say why."""

from __future__ import annotations

import pandas as pd
import pytest

from metricdag.review.checks import record_count
from metricdag.spec.models import RecordCountCheck


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"store_id": [f"S{i:03d}" for i in range(n)]})


@pytest.mark.parametrize(
    ("n", "passed"),
    [(0, False), (9, False), (10, True), (11, True), (19, True), (20, True), (21, False), (500, False)],
)
def test_pass_only_within_the_bounds(n, passed):
    outcome = record_count(rows(n), RecordCountCheck(type="record_count", min=10, max=20))

    assert outcome.passed is passed
    assert outcome.metadata["rows"] == n


def test_without_max_any_count_from_min_up_passes():
    check = RecordCountCheck(type="record_count", min=5, max=None)

    assert record_count(rows(100_000), check).passed is True
    assert record_count(rows(5), check).passed is True
    assert record_count(rows(4), check).passed is False


def test_default_min_rejects_an_empty_result():
    check = RecordCountCheck(type="record_count")

    assert record_count(rows(0), check).passed is False
    assert record_count(rows(1), check).passed is True


def test_min_zero_accepts_an_empty_result():
    assert record_count(rows(0), RecordCountCheck(type="record_count", min=0, max=3)).passed is True


def test_description_states_row_count_and_bounds():
    check = RecordCountCheck(type="record_count", min=10, max=20)

    failing = record_count(rows(27), check).description
    passing = record_count(rows(12), check).description

    assert "27 rows" in failing and "outside" in failing
    assert "at least 10" in failing and "at most 20" in failing
    assert "12 rows" in passing and "within" in passing
    assert "at least 10" in passing and "at most 20" in passing


def test_description_without_max_says_so():
    outcome = record_count(rows(3), RecordCountCheck(type="record_count", min=1, max=None))

    assert "3 rows" in outcome.description
    assert "at least 1" in outcome.description and "no maximum" in outcome.description
    assert outcome.metadata["max"] == "none"


def test_max_below_min_is_rejected_when_the_check_is_declared():
    with pytest.raises(ValueError, match=r"max \(5\) is below min \(10\)"):
        RecordCountCheck(type="record_count", min=10, max=5)
