"""Report-only backtest: each check over past partitions, variance against the accepted history before each day."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from metricdag.review.backtest import backtest, fire_counts
from metricdag.spec.models import DailyMinimumCheck, VarianceCheck

DAYS = [date(2024, 6, 1) + timedelta(days=n) for n in range(6)]
TOTALS = {DAYS[0]: 100.0, DAYS[1]: 104.0, DAYS[2]: 98.0, DAYS[3]: 500.0, DAYS[5]: 101.0}  # the 5th: no data
CHECKS = [
    ("daily_minimum", DailyMinimumCheck(type="daily_minimum", measure="sum:net", min=99)),
    ("variance", VarianceCheck(type="variance", measure="sum:net", window=7, max_deviation_pct=50, min_history=2)),
]


def reader(days: dict[date, float]):
    return lambda d: pd.DataFrame({"net": [days[d]]}) if d in days else None


def test_each_check_on_each_day_against_the_history_as_it_stood():
    accepted = {d: v for d, v in TOTALS.items() if d != DAYS[3]}  # the outlier was rejected at the time
    rows = backtest(CHECKS, list(reversed(DAYS)), reader(TOTALS), reader(accepted), "d")

    fired = {(r.partition, r.check): r.would_fire for r in rows}
    assert [r.partition for r in rows] == [d for d in DAYS for _ in CHECKS]  # oldest first
    assert fired[(DAYS[2], "daily_minimum")] is True  # 98 < 99
    assert [fired[(d, "variance")] for d in DAYS] == [False, False, False, True, None, False]
    assert next(r for r in rows if r.partition == DAYS[4]).detail == "no data for this partition"
    assert next(r for r in rows if (r.partition, r.check) == (DAYS[3], "variance")).value == 500.0
    # the day after the outlier compares with 100, 104, 98 only (not 500): within 50%
    assert "average 100.7 of 3 accepted day(s)" in next(
        r.detail for r in rows if (r.partition, r.check) == (DAYS[5], "variance")
    )
    assert fire_counts(rows) == {"daily_minimum": (1, 5), "variance": (1, 5)}


def test_a_day_accepted_back_then_is_part_of_later_baselines():
    rows = backtest(CHECKS[1:], DAYS, reader(TOTALS), reader(TOTALS), "d")

    last = rows[-1]
    assert last.partition == DAYS[5] and "of 4 accepted day(s)" in last.detail


def test_new_check_types_are_backtested_too():
    from metricdag.spec.models import AnomalyCheck, RangeCheck, UniqueCheck

    frames = {d: pd.DataFrame({"k": ["a", "b"], "net": [v / 2, v / 2]}) for d, v in TOTALS.items()}
    frames[DAYS[1]] = pd.DataFrame({"k": ["a", "a"], "net": [-1.0, 105.0]})
    read = lambda d: frames.get(d)  # noqa: E731
    checks = [
        ("range", RangeCheck(type="range", column="net", min=0)),
        ("unique", UniqueCheck(type="unique")),
        ("anomaly", AnomalyCheck(type="anomaly", measure="sum:net", window=7, min_history=2)),
    ]
    rows = backtest(checks, DAYS, read, read, "d", key=["k"])

    fired = {(r.partition, r.check): r.would_fire for r in rows}
    assert [fired[(d, "range")] for d in DAYS] == [False, True, False, False, None, False]
    assert [fired[(d, "unique")] for d in DAYS] == [False, True, False, False, None, False]
    assert fired[(DAYS[3], "anomaly")] is True  # 500 against 100, 104, 98
    assert fired[(DAYS[5], "anomaly")] is False  # the median and MAD are not pulled by the 500 in its history
