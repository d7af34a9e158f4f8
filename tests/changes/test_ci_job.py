"""The merge-request job runs the diff for the changed metrics and keeps its reports."""

from __future__ import annotations

import os

import yaml

from metricdag.changes.run import REPORTS_DIR
from tests.conftest import PROJECT_ROOT
from tests.deploy.test_ci_file import script_lines


def test_the_merge_request_job_diffs_changed_metrics_and_publishes_junit() -> None:
    ci = yaml.safe_load((PROJECT_ROOT / ".gitlab-ci.yml").read_text())
    job = ci["metric-diff"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["stage"] in ci["stages"]
    assert any(line.startswith('.ci/metric-diff "$CI_MERGE_REQUEST_DIFF_BASE_SHA"') for line in script_lines(job))
    assert job["artifacts"]["reports"]["junit"] == f"{REPORTS_DIR.as_posix()}/*/junit.xml"
    script = PROJECT_ROOT / ".ci" / "metric-diff"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "diff --changed-since" in text and "--publish-base" in text
