"""The deployed instance (deploy/dagster.yaml) on a real PostgreSQL on loopback: a metric's run is
stored there with its materializations, and the queue limits one run per metric."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml

from metricdag.day_run import materialize_metric
from metricdag_localstack.seed import sample_days
from tests.deploy.postgres import Postgres

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_FILE = ROOT / "deploy" / "dagster.yaml"
METRIC = "daily_net_sales"


@pytest.fixture()
def postgres_env(postgres: Postgres, monkeypatch) -> Postgres:
    """The variables deploy/dagster.yaml reads, pointing at the test's server."""
    for name, value in (("HOST", postgres.host), ("PORT", str(postgres.port)), ("USER", postgres.user),
                        ("PASSWORD", "trust-auth-ignores-it"), ("DB", postgres.db_name)):
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the ECS launcher's clients need a region
    return postgres


def instance_home(folder: Path, *, local_launcher: bool) -> Path:
    """A DAGSTER_HOME holding deploy/dagster.yaml, with only the run launcher replaced when asked."""
    config = yaml.safe_load(INSTANCE_FILE.read_text())
    if local_launcher:
        config["run_launcher"] = {"module": "dagster", "class": "DefaultRunLauncher"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_the_deployed_instance_queues_runs_one_per_metric_and_launches_on_ecs(postgres_env, tmp_path):
    from dagster_aws.ecs import EcsRunLauncher

    with dg.DagsterInstance.from_config(str(instance_home(tmp_path / "home", local_launcher=False))) as instance:
        assert isinstance(instance.run_launcher, EcsRunLauncher)
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert {"key": "metric", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in queue.tag_concurrency_limits
        assert type(instance.run_storage).__module__.startswith("dagster_postgres")


def test_a_metric_run_is_stored_in_postgres_with_its_materializations(postgres_env, seeded_env, tmp_path):
    home = instance_home(tmp_path / "home", local_launcher=True)
    day = sample_days(seeded_env)[-1].isoformat()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ok, rows = materialize_metric(ROOT / "metrics" / METRIC, seeded_env, day, instance, verbose=False)
    assert ok, rows

    # read back through a second instance on the same database, as the webserver would
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs(filters=dg.RunsFilter(tags={"metric": METRIC}))
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == day
        materialized = {
            e.dagster_event.asset_key.to_user_string(): e.dagster_event.partition
            for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        }
        persisted = [key for key in materialized if key.startswith(f"{METRIC}/persisted")]
        assert persisted and set(materialized.values()) == {day}
        latest = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(persisted[0]))
        assert latest is not None and latest.run_id == run.run_id

    with psycopg2.connect(host=postgres_env.host, port=postgres_env.port, user=postgres_env.user,
                          dbname=postgres_env.db_name) as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (run.run_id,))
        assert cur.fetchone() == ("SUCCESS",)
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
                    (run.run_id,))
        assert cur.fetchone()[0] == len(materialized)
