"""The executor of a metric's job: metric.yaml's `executor:`, else the environment file's default."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.errors import SpecError
from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.build import EXECUTOR_TAG
from metricdag.settings import load_environment
from tests.conftest import copy_project


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")  # nothing listens: definitions load stays offline
    return copy_project(tmp_path, ["daily_net_sales"])


def edit(project, old: str, new: str, file: str = "metrics/daily_net_sales/metric.yaml") -> None:
    path = project / file
    assert old in path.read_text(), old
    path.write_text(path.read_text().replace(old, new))


def job(project) -> dg.JobDefinition:
    folder = project / "metrics" / "daily_net_sales"
    return build_metric_definitions(folder, load_environment("local", project)).resolve_job_def(job_name("daily_net_sales"))


def executor_config(job_def: dg.JobDefinition) -> dict:
    """The executor config a launch without run config gets (what the schedule and sensors launch),
    without Dagster's own defaults (retries enabled)."""
    config = job_def.run_config_schema.config_type.fields["execution"].default_value["config"]
    return {kind: {k: v for k, v in inner.items() if k != "retries"} for kind, inner in config.items()}


def test_the_environment_default_is_in_process_and_the_run_says_so(project):
    daily = job(project)
    assert executor_config(daily) == {"in_process": {}}
    assert daily.tags[EXECUTOR_TAG] == "in_process"


def test_metric_yaml_chooses_a_bounded_forkserver_with_preloaded_modules(project):
    edit(project, "retry_policy: default ",
         "executor: {type: multiprocess, max_concurrent: 3, preload_modules: [pandas]}\nretry_policy: default ")
    daily = job(project)
    assert executor_config(daily) == {
        "multiprocess": {"max_concurrent": 3, "start_method": {"forkserver": {"preload_modules": ["pandas"]}}}
    }
    assert daily.tags[EXECUTOR_TAG] == "multiprocess (forkserver, max_concurrent=3)"


def test_the_environment_file_sets_the_default_and_metric_yaml_wins(project):
    edit(project, "executor: {type: in_process}\n", "executor: {type: multiprocess, start_method: spawn}\n",
         "pipeline-configs/environments/local.yaml")
    assert executor_config(job(project)) == {"multiprocess": {"max_concurrent": None, "start_method": {"spawn": {}}}}
    edit(project, "retry_policy: default ", "executor: in_process\nretry_policy: default ")
    assert executor_config(job(project)) == {"in_process": {}}


def test_a_multiprocess_option_on_in_process_names_the_line(project):
    edit(project, "retry_policy: default ", "executor: {type: in_process, max_concurrent: 2}\nretry_policy: default ")
    with pytest.raises(SpecError) as err:
        job(project)
    assert "metric.yaml:11: executor: max_concurrent only applies to type: multiprocess" in str(err.value)
