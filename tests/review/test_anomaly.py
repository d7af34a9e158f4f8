"""The anomaly check: a robust, day-of-week aware z-score against the accepted history."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from metricdag.review.checks import anomaly, seasonal_factors
from metricdag.spec.models import AnomalyCheck

MONDAY = date(2024, 6, 3)
# a strong weekly pattern: weekends sell twice a weekday, with a little noise
WEEK = [100.0, 102.0, 98.0, 101.0, 99.0, 200.0, 204.0]


def weeks(n: int, start: date = MONDAY) -> list[tuple[date, float]]:
    return [(start + timedelta(days=d), WEEK[d % 7] * (1 + 0.01 * ((d * 7) % 3 - 1))) for d in range(n * 7)]


def check(**fields) -> AnomalyCheck:
    return AnomalyCheck(type="anomaly", measure="sum:net", **{"window": 28, "min_history": 5, **fields})


def test_the_weekly_pattern_is_not_an_anomaly():
    history = weeks(3)
    saturday = MONDAY + timedelta(days=21 + 5)
    outcome = anomaly(200.0, saturday, history, check())

    assert outcome.passed, outcome.description
    assert "for a Saturday" in outcome.description
    assert outcome.metadata["weekday_factor"] == pytest.approx(2.0, rel=0.05)


def test_without_seasonality_the_weekend_would_fire():
    saturday = MONDAY + timedelta(days=21 + 5)
    assert not anomaly(200.0, saturday, weeks(3), check(seasonality="none")).passed


def test_a_weekday_at_weekend_level_fires():
    tuesday = MONDAY + timedelta(days=22)
    outcome = anomaly(200.0, tuesday, weeks(3), check())

    assert not outcome.passed
    assert "beyond the sensitivity 4" in outcome.description and outcome.metadata["z_score"] > 4


@pytest.mark.parametrize(("value", "passed"), [(100.0, True), (104.0, True), (500.0, False), (20.0, False)])
def test_short_history_without_repeated_weekdays_compares_with_all_days(value, passed):
    history = [(MONDAY + timedelta(days=d), v) for d, v in enumerate([100.0, 97.0, 103.0, 99.0, 101.0])]
    assert seasonal_factors(history) == {}
    assert anomaly(value, MONDAY + timedelta(days=5), history, check()).passed is passed


def test_sensitivity_moves_the_threshold():
    history = [(MONDAY + timedelta(days=d), v) for d, v in enumerate([100.0, 97.0, 103.0, 99.0, 101.0])]
    day = MONDAY + timedelta(days=5)
    assert anomaly(108.0, day, history, check(sensitivity=4)).passed is False
    assert anomaly(108.0, day, history, check(sensitivity=6)).passed is True


def test_too_little_history_passes_with_a_note():
    outcome = anomaly(1e9, MONDAY, weeks(1)[:4], check(min_history=5))
    assert outcome.passed and "only 4 accepted day(s)" in outcome.description and "needs 5" in outcome.description


def test_a_flat_history_still_allows_small_noise_and_no_value_fails():
    flat = [(MONDAY + timedelta(days=d), 100.0) for d in range(7)]
    assert anomaly(102.0, MONDAY + timedelta(days=7), flat, check()).passed  # the 1% floor of the spread
    assert not anomaly(110.0, MONDAY + timedelta(days=7), flat, check()).passed
    assert not anomaly(math.nan, MONDAY + timedelta(days=7), flat, check()).passed


def test_bad_fields():
    with pytest.raises(ValueError, match=r"min_history \(9\) is larger than window \(7\)"):
        check(window=7, min_history=9)
    with pytest.raises(ValueError, match="greater than 0"):
        check(sensitivity=0)
