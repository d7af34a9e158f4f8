"""A run's catalog versions are locked: a re-execution reads them even after a newer publish."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.lock_tags import lock_tag, locks_in
from metricdag.settings import load_environment
from metricdag_localstack.seed import catalog_client, sample_days
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.stack  # every test here needs the local stack

METRIC = PROJECT_ROOT / "metrics" / "daily_net_sales"
# The executor is not what these tests are about: run every step in the run's own process.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def daily_job() -> dg.JobDefinition:
    """Module-level so Dagster can reconstruct the job for a re-execution (dg.execute_job)."""
    env = load_environment("local", PROJECT_ROOT)
    return build_metric_definitions(METRIC, env).resolve_job_def(job_name("daily_net_sales"))


def sourced_versions(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    out = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        mat = record.dagster_event.event_specific_data.materialization
        if "catalog_version" in mat.metadata:
            out[mat.asset_key.path[-1]] = mat.metadata["catalog_version"].value
    return out


def test_reexecution_reads_the_locked_versions_after_a_new_publish(seeded_env, tmp_path):
    client = catalog_client(seeded_env)
    day = sample_days(seeded_env)[-1].isoformat()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = daily_job().execute_in_process(partition_key=day, instance=instance)
        assert first.success
        locked = locks_in(dict(instance.get_run_by_id(first.run_id).tags))
        assert locked["pos_transactions"] == sourced_versions(instance, first.run_id)["pos_transactions"]
        old = locked["pos_transactions"]
        assert client.get_lock(first.run_id).versions == locked  # the catalog's copy of the lock

        from metricdag.catalog.models import DatasetDefinition

        current = client.resolve("pos_transactions", old)
        newer = current.model_dump(by_alias=True, exclude={"environment", "published_at", "coordinates", "version"})
        newer["version"] = "9.0.0"
        newer["coordinates"] = {seeded_env.name: current.coordinates.model_dump(by_alias=True)}
        client.publish(DatasetDefinition.model_validate(newer))
        assert client.resolve("pos_transactions").version == "9.0.0"

        again = dg.execute_job(
            dg.reconstructable(daily_job),
            instance=instance,
            reexecution_options=dg.ReexecutionOptions(parent_run_id=first.run_id),
            tags={"dagster/partition": day},  # only the partition: the lock must come from the root run
            run_config=IN_PROCESS,
        )
        assert again.success
        assert sourced_versions(instance, again.run_id)["pos_transactions"] == old
        assert dict(instance.get_run_by_id(again.run_id).tags)[lock_tag("pos_transactions")] == old

        fresh = daily_job().execute_in_process(partition_key=day, instance=instance)
        assert sourced_versions(instance, fresh.run_id)["pos_transactions"] == "9.0.0"


def test_a_schedule_tick_locks_every_dataset_of_the_metric(seeded_env):
    from datetime import datetime, timezone

    from metricdag.spec.loader import load_metric

    defs = build_metric_definitions(METRIC, seeded_env)
    schedule = defs.resolve_schedule_def("daily_net_sales__schedule")
    tick = datetime(2024, 6, 4, 6, 30, tzinfo=timezone.utc)
    with dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def(), resources=defs.resources
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2024-06-03"
    expected = set(load_metric(METRIC, PROJECT_ROOT).spec.catalog_datasets())
    assert set(locks_in(dict(request.tags))) == expected
    client = catalog_client(seeded_env)
    assert all(client.resolve(name).version == v for name, v in locks_in(dict(request.tags)).items())
