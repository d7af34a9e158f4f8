"""``on_change: {backfill_days: N}``: a changed metric version backfills its recent history
through staging and one publish, started by the metric's sensor."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.backfill.on_change import on_change_job_name, recent_days
from metricdag.backfill.run import run_backfill
from metricdag.errors import SpecError
from metricdag.factory import build_metric_definitions
from metricdag.settings import load_environment
from metricdag.spec.loader import load_metric
from metricdag.versioning import metric_version
from metricdag_localstack.seed import sample_days
from tests.backfill.probe import METRIC, days_in, make_project, staging_schemas, steer, table_rows

TABLE = "METRICS.BACKFILL_PROBE_OC_DAILY"


def _with_on_change(folder, text: str) -> None:
    path = folder / "metric.yaml"
    path.write_text(path.read_text() + text)


def test_recent_days_end_at_the_last_published_day(tmp_path):
    from datetime import date

    assert recent_days(date(2024, 6, 3), 3, date(2024, 5, 1)) == [date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3)]
    assert recent_days(date(2024, 5, 2), 5, date(2024, 5, 1)) == [date(2024, 5, 1), date(2024, 5, 2)]


def test_a_bad_on_change_names_the_file_and_line(tmp_path):
    project, folder = make_project(tmp_path, TABLE)
    _with_on_change(folder, "on_change:\n  backfill_days: 0\n")
    with pytest.raises(SpecError, match=r"metric\.yaml:\d+.*backfill_days"):
        load_metric(folder, project)


def test_on_change_does_not_change_the_version(tmp_path):
    project, folder = make_project(tmp_path, TABLE)
    before = metric_version(load_metric(folder, project)).version
    _with_on_change(folder, "on_change: {backfill_days: 3}\n")
    assert metric_version(load_metric(folder, project)).version == before


def _tick(folder, env, cursor):
    defs = build_metric_definitions(folder, env)
    sensor = defs.resolve_sensor_def(f"{METRIC}__on_change")
    instance = dg.DagsterInstance.ephemeral()
    data = sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor, instance=instance))
    return defs, data


@pytest.mark.stack
def test_a_new_version_backfills_the_last_days_through_staging(seeded_env, tmp_path):
    project, folder = make_project(tmp_path, TABLE)
    _with_on_change(folder, "on_change: {backfill_days: 3}\n")
    env = load_environment("local", project)
    days = sample_days(seeded_env)
    first = metric_version(load_metric(folder, project)).version

    _, data = _tick(folder, env, None)  # first evaluation: remembers the version only
    assert not data.run_requests and data.cursor == first
    _, data = _tick(folder, env, "older-version")  # nothing published yet: nothing to recompute
    assert not data.run_requests and data.cursor == first

    assert run_backfill(folder, env, days, dg.DagsterInstance.ephemeral()).ok  # history as published
    before = set(table_rows(env, TABLE))

    # the node changes (a new version) and now computes 10% more
    node = folder / "metric_calculation" / "net_sales" / "src" / "steered.py"
    node.write_text(node.read_text() + "\n# revised\n")
    steer(folder, factor=1.1)
    second = metric_version(load_metric(folder, project)).version
    assert second != first
    _, data = _tick(folder, env, first)
    assert data.cursor == second
    (request,) = data.run_requests
    assert request.run_key == f"{METRIC}:{second}"
    _, unchanged = _tick(folder, env, second)
    assert not unchanged.run_requests  # a version is backfilled once

    defs = build_metric_definitions(folder, env)
    job = defs.resolve_job_def(on_change_job_name(METRIC))
    result = job.execute_in_process(run_config=request.run_config, instance=dg.DagsterInstance.ephemeral())
    assert result.success

    after = table_rows(env, TABLE)
    recomputed = {str(r[0]) for r in after if r not in before}
    assert sorted(days_in(env, TABLE)) == [d.isoformat() for d in days]
    assert recomputed == {d.isoformat() for d in days[-3:]}  # the last 3 days; the older ones kept
    assert staging_schemas(env) == []
