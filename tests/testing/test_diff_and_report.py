"""The diff by key and its reports (pure: no stack)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from metricdag.changes.frame_diff import ColumnTolerance, DiffError, diff_frames
from metricdag.changes.report import NodeReport, render_html, render_junit, render_text

KEY = ["store_id"]


def baseline() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "store_id": ["S001", "S002", "S003", "S004"],
            "region": ["Europe", "Europe", "Asia", "Asia"],
            "units": [10, 20, 30, 40],
            "net_usd": [100.0, 200.0, 300.0, None],
        }
    )


def test_identical_frames_pass_with_a_perfect_score() -> None:
    shuffled = baseline().sample(frac=1.0, random_state=3)
    result = diff_frames(baseline(), shuffled, KEY)
    assert result.passed
    assert result.match_score == 1.0
    assert result.mismatches == {"region": 0, "units": 0, "net_usd": 0}


def test_changed_rows_are_named_with_old_and_new_values_per_column() -> None:
    out = baseline()
    out.loc[1, "net_usd"] = 250.0
    out.loc[2, "region"] = "Europe"
    out.loc[2, "units"] = 31
    result = diff_frames(baseline(), out, KEY, dataset="net_sales_daily")
    assert not result.passed
    changed = {(r.store_id, r.column): (r.baseline, r.output) for r in result.changed.itertuples()}
    assert changed == {
        ("S002", "net_usd"): (200.0, 250.0),
        ("S003", "region"): ("Asia", "Europe"),
        ("S003", "units"): (30, 31),
    }
    assert result.mismatches == {"region": 1, "units": 1, "net_usd": 1}
    assert result.changed_rows == 2
    assert result.match_score == pytest.approx(2 / 4)


def test_rows_only_on_one_side_are_reported() -> None:
    out = pd.concat([baseline().iloc[1:], pd.DataFrame({"store_id": ["S009"], "region": ["X"], "units": [1], "net_usd": [1.0]})])
    result = diff_frames(baseline(), out, KEY)
    assert list(result.only_in_baseline["store_id"]) == ["S001"]
    assert list(result.only_in_output["store_id"]) == ["S009"]
    assert not result.passed


def test_duplicate_keys_are_reported_not_paired() -> None:
    out = pd.concat([baseline(), baseline().iloc[[0]]], ignore_index=True)
    base = pd.concat([baseline(), baseline().iloc[[3]]], ignore_index=True)
    result = diff_frames(base, out, KEY)
    assert result.duplicates_in_output.to_dict("records") == [{"store_id": "S001", "count": 2}]
    assert result.duplicates_in_baseline.to_dict("records") == [{"store_id": "S004", "count": 2}]
    assert result.changed.empty  # S001 and S004 were not paired with one of their copies
    assert result.matched_rows == 2
    assert not result.passed
    assert "duplicate keys in the output (1)" in render_text(NodeReport("m", "n", [result]))


@pytest.mark.parametrize(("delta", "passes"), [(0.009, True), (0.011, False)])
def test_absolute_tolerance_per_column(delta: float, passes: bool) -> None:
    out = baseline()
    out["net_usd"] = out["net_usd"] + delta
    result = diff_frames(baseline(), out, KEY, {"net_usd": ColumnTolerance(abs=0.01)})
    assert result.passed is passes


@pytest.mark.parametrize(("factor", "passes"), [(1.0009, True), (1.0011, False)])
def test_relative_tolerance_per_column(factor: float, passes: bool) -> None:
    out = baseline()
    out["net_usd"] = out["net_usd"] * factor
    assert diff_frames(baseline(), out, KEY, {"net_usd": ColumnTolerance(rel=0.001)}).passed is passes


def test_integer_columns_without_tolerance_are_exact() -> None:
    out = baseline()
    out.loc[0, "units"] = 11
    assert diff_frames(baseline(), out, KEY, {"net_usd": ColumnTolerance(abs=5)}).mismatches["units"] == 1


def test_missing_and_extra_columns_fail() -> None:
    out = baseline().drop(columns=["region"]).assign(extra=1)
    result = diff_frames(baseline(), out, KEY)
    assert result.missing_columns == ["region"] and result.extra_columns == ["extra"]
    assert not result.passed and result.match_score == 0.0


def test_a_missing_key_column_is_an_error_naming_it() -> None:
    with pytest.raises(DiffError, match="key column\\(s\\) store_id missing from the output"):
        diff_frames(baseline(), baseline().drop(columns=["store_id"]), KEY, dataset="x")


def test_junit_xml_parses_and_counts_failures() -> None:
    out = baseline()
    out.loc[0, "units"] = 99
    failing = diff_frames(baseline(), out, KEY, dataset="net_sales_daily")
    passing = diff_frames(baseline(), baseline(), KEY, dataset="other_output")
    root = ET.fromstring(render_junit(NodeReport("daily_net_sales", "net_sales", [failing, passing])))
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and suite.get("errors") == "0"
    failure = suite.find("testcase[@name='net_sales_daily']/failure")
    assert "S001" in failure.text and "units" in failure.text and "99" in failure.text
    assert suite.find("testcase[@name='other_output']/failure") is None


def test_junit_reports_an_error_when_nothing_could_be_compared() -> None:
    root = ET.fromstring(render_junit(NodeReport("m", "n", [], error="snapshot 'x': checksum mismatch")))
    assert root.find("testsuite").get("errors") == "1"
    assert "checksum mismatch" in root.find("testsuite/testcase/error").get("message")


def test_html_report_shows_changed_values() -> None:
    out = baseline()
    out.loc[0, "region"] = "<b>Mars</b>"
    page = render_html(NodeReport("m", "n", [diff_frames(baseline(), out, KEY, dataset="d")]))
    assert "FAILED" in page and "&lt;b&gt;Mars&lt;/b&gt;" in page and "<b>Mars</b>" not in page
