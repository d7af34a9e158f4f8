"""The node tests' report, written for a diff: a declared change shows as CHANGED, not as a failure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd

from metricdag.changes.frame_diff import diff_frames
from metricdag.changes.report import NodeReport, render_html, render_junit, render_text


def changed_diff():
    before = pd.DataFrame({"store_id": ["S1", "S2"], "net_sales_usd": [100.0, 200.0]})
    after = before.assign(net_sales_usd=[110.0, 220.0])
    return diff_frames(before, after, ["store_id"], dataset="net_sales_daily 2024-06-01")


def test_a_declared_change_passes_in_junit_and_shows_what_changed() -> None:
    d = changed_diff()
    report = NodeReport("daily_net_sales", "2024-06-01..2024-06-01", [d], title="diff", suite="metric-diff",
                        summary="per column table", accepted=frozenset({d.dataset}))
    assert report.passed
    root = ET.fromstring(render_junit(report).split("\n", 1)[1])
    assert root.get("failures") == "0" and root.get("errors") == "0"
    case = root.find("testsuite/testcase")
    assert root.find("testsuite").get("name") == "metric-diff.daily_net_sales.2024-06-01..2024-06-01"
    assert case.find("failure") is None
    assert "net_sales_usd" in case.find("system-out").text
    text = render_text(report)
    assert text.startswith("diff daily_net_sales/2024-06-01..2024-06-01: PASSED")
    assert "per column table" in text and "net_sales_daily 2024-06-01: CHANGED" in text
    assert "CHANGED" in render_html(report)


def test_an_undeclared_change_fails_as_before() -> None:
    report = NodeReport("daily_net_sales", "net_sales", [changed_diff()])
    assert not report.passed
    root = ET.fromstring(render_junit(report).split("\n", 1)[1])
    assert root.get("failures") == "1"
    assert root.find("testsuite").get("name") == "node-tests.daily_net_sales.net_sales"
    assert render_text(report).startswith("node test daily_net_sales/net_sales: FAILED")
