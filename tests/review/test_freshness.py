"""The freshness check: a sourced dataset has its rows for the day by a deadline."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from metricdag.review.checks import due_at, freshness
from metricdag.spec.models import FreshnessCheck
from tests.spec.test_review_check_spec import assert_error_at_offending_line

DAY = date(2024, 6, 3)
CHECK = FreshnessCheck(type="freshness", source="pos_transactions", deadline="06:00", min_rows=100)
REPO = Path(__file__).resolve().parents[2]


def test_the_deadline_is_on_the_day_after_by_default():
    assert due_at(DAY, CHECK) == datetime(2024, 6, 4, 6, 0, tzinfo=timezone.utc)
    assert due_at(DAY, CHECK.model_copy(update={"days_after": 0})) == datetime(2024, 6, 3, 6, 0, tzinfo=timezone.utc)


def test_enough_rows_pass_whenever_the_run_starts():
    outcome = freshness(120, DAY, CHECK, datetime(2024, 6, 4, 1, 0, tzinfo=timezone.utc))
    assert outcome.passed and "has 120 row(s) for 2024-06-03" in outcome.description


def test_a_late_source_fails_saying_how_late():
    outcome = freshness(3, DAY, CHECK, datetime(2024, 6, 4, 8, 30, tzinfo=timezone.utc))
    assert not outcome.passed and outcome.metadata["late"] is True
    assert "'pos_transactions' is late: 3 row(s) for 2024-06-03, at least 100 were due by 2024-06-04 06:00 UTC, 2h 30m ago" \
        in outcome.description
    assert "nothing is computed on partial data" in outcome.description


def test_a_source_not_complete_before_its_deadline_fails_too_but_is_not_late():
    outcome = freshness(0, DAY, CHECK, datetime(2024, 6, 4, 5, 15, tzinfo=timezone.utc))
    assert not outcome.passed and outcome.metadata["late"] is False
    assert "has only 0 row(s) for 2024-06-03 so far" in outcome.description and "(in 0h 45m)" in outcome.description


@pytest.mark.parametrize("deadline", ["6:00", "24:00", "06:60", "noon"])
def test_a_bad_deadline_is_rejected(deadline):
    with pytest.raises(ValueError, match="deadline"):
        FreshnessCheck(type="freshness", source="s", deadline=deadline)


@pytest.mark.parametrize(
    ("source", "words"),
    [("pos_transaction", ["unknown sourced dataset 'pos_transaction' in a freshness check", "did you mean 'pos_transactions'"])],
)
def test_a_freshness_check_names_a_sourced_dataset_at_its_line(tmp_path, source, words):
    folder = tmp_path / "metrics" / "daily_net_sales"
    shutil.copytree(REPO / "metrics" / "daily_net_sales", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pipeline-configs").mkdir()
    shutil.copy(REPO / "pipeline-configs" / "retry-policies.yaml", tmp_path / "pipeline-configs")
    path = folder / "metric.yaml"
    old = "      - type: record_count     # one row per trading store: 18 stores in the sample\n"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, f"      - type: freshness\n        source: {source}  # offending\n        deadline: '06:00'\n" + old))

    assert_error_at_offending_line(folder, tmp_path, words)
