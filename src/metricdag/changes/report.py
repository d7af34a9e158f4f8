"""A node test's result as terminal text, JUnit XML (GitLab's test report) and an HTML page."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from metricdag.changes.frame_diff import DiffResult

MAX_ROWS_SHOWN = 50


@dataclass(frozen=True)
class NodeReport:
    metric: str
    node: str
    diffs: list[DiffResult] = field(default_factory=list)
    error: str | None = None
    """Set when the test could not compare (bad snapshot, node failure): nothing was diffed."""
    snapshots: list[str] = field(default_factory=list)
    seconds: float = 0.0
    title: str = "node test"
    """What was tested, as the report's heading says it (``metricdag diff`` writes ``diff``)."""
    suite: str = "node-tests"
    """The JUnit suite's prefix: ``<suite>.<metric>.<node>``."""
    summary: str = ""
    """Text shown after the heading (e.g. a table of changes per partition and column)."""
    accepted: frozenset[str] = frozenset()
    """Datasets whose differences were expected (a declared change): shown as CHANGED, not failed."""

    @property
    def label(self) -> str:
        return f"{self.metric}/{self.node}"

    @property
    def passed(self) -> bool:
        return self.error is None and all(d.passed or d.dataset in self.accepted for d in self.diffs)

    def verdict(self, d: DiffResult) -> str:
        if d.passed:
            return "PASS"
        return "CHANGED" if d.dataset in self.accepted else "FAIL"


def summary_line(d: DiffResult, verdict: str | None = None) -> str:
    return (
        f"{d.dataset}: {verdict or ('PASS' if d.passed else 'FAIL')}  match score {d.match_score:.4f}  "
        f"({d.baseline_rows} baseline rows, {d.output_rows} output rows; {len(d.only_in_baseline)} only in baseline, "
        f"{len(d.only_in_output)} only in output, {d.changed_rows} changed, "
        f"{len(d.duplicates_in_baseline)} duplicate key(s) in baseline, {len(d.duplicates_in_output)} in output)"
    )


def _table(frame: pd.DataFrame) -> str:
    shown = frame.head(MAX_ROWS_SHOWN)
    text = tabulate(shown.astype(object).where(shown.notna(), "NULL").values.tolist(), headers=list(shown.columns), tablefmt="simple", disable_numparse=True)
    more = len(frame) - len(shown)
    return text + (f"\n... and {more} more" if more > 0 else "")


def _sections(d: DiffResult) -> list[tuple[str, pd.DataFrame]]:
    return [
        ("columns missing from the output", pd.DataFrame({"column": d.missing_columns})),
        ("columns only in the output", pd.DataFrame({"column": d.extra_columns})),
        ("rows only in the baseline", d.only_in_baseline),
        ("rows only in the output", d.only_in_output),
        ("changed values (baseline -> output)", d.changed),
        ("duplicate keys in the baseline", d.duplicates_in_baseline),
        ("duplicate keys in the output", d.duplicates_in_output),
    ]


def diff_text(d: DiffResult, verdict: str | None = None) -> str:
    lines = [summary_line(d, verdict)]
    mismatched = {c: n for c, n in d.mismatches.items() if n}
    if mismatched:
        lines.append("mismatches per column: " + ", ".join(f"{c}={n}" for c, n in mismatched.items()))
    for title, frame in _sections(d):
        if not frame.empty:
            lines += ["", f"{title} ({len(frame)}):", _table(frame)]
    return "\n".join(lines)


def render_text(report: NodeReport) -> str:
    head = f"{report.title} {report.label}: {'PASSED' if report.passed else 'FAILED'} in {report.seconds:.1f}s"
    parts = [head]
    if report.summary:
        parts.append(report.summary.rstrip("\n"))
    if report.snapshots:
        parts.append("snapshots: " + ", ".join(report.snapshots))
    if report.error:
        parts.append(f"error: {report.error}")
    parts += [diff_text(d, report.verdict(d)) for d in report.diffs]
    return "\n\n".join(parts) + "\n"


def render_junit(report: NodeReport) -> str:
    cases = max(1, len(report.diffs))
    failures = sum(report.verdict(d) == "FAIL" for d in report.diffs)
    suite = ET.Element(
        "testsuite",
        name=f"{report.suite}.{report.metric}.{report.node}",
        tests=str(cases),
        failures=str(failures),
        errors=str(1 if report.error else 0),
        time=f"{report.seconds:.3f}",
    )
    classname = f"{report.suite}.{report.metric}.{report.node}"
    if report.error:
        name = "snapshot test" if report.suite == "node-tests" else report.title
        case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{report.seconds:.3f}")
        ET.SubElement(case, "error", message=report.error.splitlines()[0][:500]).text = report.error
    for d in report.diffs:
        case = ET.SubElement(suite, "testcase", classname=classname, name=d.dataset, time="0")
        if report.verdict(d) == "FAIL":
            ET.SubElement(case, "failure", message=summary_line(d)).text = diff_text(d)
        elif not d.passed:  # a declared change: passes, with what changed
            ET.SubElement(case, "system-out").text = diff_text(d, report.verdict(d))
    root = ET.Element("testsuites", tests=suite.get("tests"), failures=suite.get("failures"), errors=suite.get("errors"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _html_table(frame: pd.DataFrame) -> str:
    shown = frame.head(MAX_ROWS_SHOWN * 10)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('NULL' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
        for row in shown.astype(object).itertuples(index=False)
    )
    more = len(frame) - len(shown)
    return f"<table><tr>{head}</tr>{body}</table>" + (f"<p>... and {more} more</p>" if more > 0 else "")


def render_html(report: NodeReport) -> str:
    status = "PASSED" if report.passed else "FAILED"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.label)}: {status}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-family:monospace}.FAIL,.FAILED{color:#b00}"
        ".PASS,.PASSED{color:#070}</style></head><body>",
        f"<h1>{html.escape(report.label)}: <span class='{status}'>{status}</span></h1>",
        f"<p>{report.seconds:.1f}s; snapshots: {html.escape(', '.join(report.snapshots))}</p>",
    ]
    if report.summary:
        parts.append(f"<pre>{html.escape(report.summary)}</pre>")
    if report.error:
        parts.append(f"<pre class='FAIL'>{html.escape(report.error)}</pre>")
    for d in report.diffs:
        verdict = report.verdict(d)
        parts.append(f"<h2>{html.escape(d.dataset)}: <span class='{verdict}'>{verdict}</span></h2>")
        parts.append(f"<p>{html.escape(summary_line(d, verdict))}</p>")
        parts.append(_html_table(pd.DataFrame({"column": list(d.mismatches), "mismatches": list(d.mismatches.values())})))
        for title, frame in _sections(d):
            if not frame.empty:
                parts.append(f"<h3>{html.escape(title)} ({len(frame)})</h3>{_html_table(frame)}")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_reports(report: NodeReport, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"text": folder / "report.txt", "junit": folder / "junit.xml", "html": folder / "report.html"}
    paths["text"].write_text(render_text(report))
    paths["junit"].write_text(render_junit(report))
    paths["html"].write_text(render_html(report))
    return paths
