"""The metrics repository: evaluations as rows, and the accepted history read from it."""

from __future__ import annotations

from datetime import date

import pandas as pd

from metricdag.audit.store import AuditStore
from metricdag.review.checks import CheckOutcome, variance
from metricdag.review.repository import check_hash, evaluation, measured_value, repository_history, threshold
from metricdag.spec.models import RangeCheck, VarianceCheck

DAY = date(2024, 6, 10)
VAR = VarianceCheck(type="variance", measure="sum:net", max_deviation_pct=50, window=5, min_history=1)


def _record(store, day: date, value: float, run: str, accepted: bool) -> None:
    outcome = variance(value, [], VAR)
    store.record_evaluation(evaluation(
        environment="local", metric="m", dataset="d", name="variance", check=VAR, partition=day.isoformat(),
        run_id=run, outcome=outcome, severity="error", metric_version="v1",
    ))
    if accepted:
        store.record_acceptance(environment="local", metric="m", dataset="d", partition=day.isoformat(), run_id=run)


def test_history_comes_from_accepted_runs_and_falls_back_to_files_only_for_unknown_days(tmp_path):
    store = AuditStore(f"sqlite:///{tmp_path}/a.db")
    _record(store, date(2024, 6, 9), 100.0, "r9", accepted=True)
    _record(store, date(2024, 6, 8), 500.0, "r8", accepted=False)  # rejected: never history
    _record(store, date(2024, 6, 7), 999.0, "r7a", accepted=False)  # a rejected run, then an accepted re-run
    _record(store, date(2024, 6, 7), 110.0, "r7b", accepted=True)
    read: list[date] = []

    def reader(day: date):
        read.append(day)
        return pd.DataFrame({"net": [40.0, 50.0]}) if day == date(2024, 6, 6) else None  # accepted before the repository

    points, known = repository_history(store, "local", "m", "d", "sum:net", DAY, 5, reader)

    assert [(p.day.isoformat(), p.value) for p in points] == [("2024-06-06", 90.0), ("2024-06-07", 110.0), ("2024-06-09", 100.0)]
    assert known == 2
    assert date(2024, 6, 9) not in read and date(2024, 6, 7) not in read  # the repository answered those days


def test_an_evaluation_row_holds_value_threshold_outcome_and_versions():
    check = RangeCheck(type="range", column="net", min=0)
    outcome = CheckOutcome(False, "2 of 5 rows", {"failing_rows": 2, "rows": 5, "min": 0, "max": None})
    row = evaluation(environment="local", metric="m", dataset="d", name="range", check=check, partition="2024-06-03",
                     run_id="r1", outcome=outcome, severity="error", metric_version="abc")
    assert (row.value, row.threshold, row.passed, row.metric_version, row.run_id) == (2.0, "0 rows with net not >= 0", False, "abc", "r1")
    assert measured_value(VAR, variance(float("nan"), [], VAR)) is None
    assert threshold(VAR) == "within 50% of the average of 5 accepted day(s)"


def test_the_definition_hash_ignores_severity_only():
    assert check_hash(VAR) == check_hash(VAR.model_copy(update={"severity": "warn"}))
    assert check_hash(VAR) != check_hash(VAR.model_copy(update={"max_deviation_pct": 40}))
