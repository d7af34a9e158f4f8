"""The backfill's range, progress arithmetic and closing report (pure functions)."""

from __future__ import annotations

from datetime import date

import pytest

from metricdag.backfill.cli import report
from metricdag.backfill.progress import Tally, clock, line
from metricdag.backfill.range import parse_day, partition_days
from metricdag.backfill.run import BackfillResult, PartitionOutcome
from metricdag.errors import MetricdagError


def test_the_range_is_every_day_oldest_first():
    days = partition_days(date(2024, 5, 28), date(2024, 6, 3), date(2024, 5, 1))
    assert days[0] == date(2024, 5, 28) and days[-1] == date(2024, 6, 3) and len(days) == 7
    assert days == sorted(days)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [("2024-06-03", "2024-05-28", "--to 2024-05-28 is before --from 2024-06-03"),
     ("2024-04-01", "2024-04-02", "before the first partition of m (2024-05-01)")],
)
def test_a_bad_range_is_refused(start, end, message):
    with pytest.raises(MetricdagError, match=message.replace("(", r"\(").replace(")", r"\)")):
        partition_days(date.fromisoformat(start), date.fromisoformat(end), date(2024, 5, 1), metric="m")


def test_a_bad_date_names_the_option():
    with pytest.raises(MetricdagError, match="--from '2024-13-01' is not a date"):
        parse_day("2024-13-01", "--from")


def test_progress_counts_failures_and_estimates_the_rest():
    tally = Tally(total=4, started=100.0)
    assert tally.eta(now=101.0) is None
    tally.record(True)
    tally.record(False)
    assert (tally.done, tally.failed) == (2, 1)
    assert tally.eta(now=110.0) == pytest.approx(10.0)  # 5 s per partition, 2 left
    assert clock(75) == "01:15" and clock(3725) == "1:02:05" and clock(None) == "--:--"
    assert line(tally).startswith("2/4 partitions, 1 failed, elapsed")


def test_the_report_names_each_failed_partition_and_its_cause():
    result = BackfillResult("m", "B1", "staging", staging_schemas=["METRICS__STAGING_B1"])
    result.partitions = [
        PartitionOutcome(date(2024, 6, 1), True, "r1"),
        PartitionOutcome(date(2024, 6, 2), False, "r2", ["check record_count on m/x failed: 0 rows"]),
    ]
    text = report(result, 3.0)
    assert "FAILED 2024-06-02: check record_count on m/x failed: 0 rows" in text
    assert "1 of 2 partition(s) failed; nothing was published, production is unchanged" in text
    assert "dropped staging schema(s): METRICS__STAGING_B1" in text
    assert not result.ok


@pytest.mark.parametrize("terminal", [True, False])
def test_the_progress_bar_shows_done_total_failed_and_eta(terminal):
    import io

    from rich.console import Console

    from metricdag.backfill.progress import ProgressBar

    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=120)
    with ProgressBar(Tally(total=3), "backfill m", console=console) as bar:
        for day, ok in (("2024-06-01", True), ("2024-06-02", False), ("2024-06-03", True)):
            bar.start(day)
            bar.advance(day, ok)
    text = out.getvalue()
    assert bar.tally.done == 3 and bar.tally.failed == 1
    if terminal:
        assert "3/3" in text and "1 failed" in text and "ETA" in text
    else:
        assert "2/3 partitions, 1 failed, elapsed 00:00, ETA 00:00  2024-06-02 FAILED" in text
