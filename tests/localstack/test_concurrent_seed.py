"""`metricdag seed` run several times at once against the real local stack: every one succeeds
and the sample data is there exactly once (a seeder used to delete the POS file another was
still loading)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from metricdag.catalog.client import CatalogClient
from metricdag.io.objectstore import join_uri, local_path
from metricdag.settings import Environment
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.conftest import PROJECT_ROOT, SAMPLE_ROWS

pytestmark = pytest.mark.stack

SEEDERS = 4


def test_concurrent_seeds_all_succeed_and_leave_one_copy(seeded_env: Environment) -> None:
    env = {**os.environ, "METRICDAG_HOME": str(PROJECT_ROOT), "DAGSTER_HOME": str(PROJECT_ROOT / ".dagster")}
    procs = [
        subprocess.Popen([sys.executable, "-m", "metricdag.cli", "seed"], cwd=PROJECT_ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(SEEDERS)
    ]
    outputs = [(p.wait(timeout=600), p.stdout.read()) for p in procs]

    failed = [out for code, out in outputs if code != 0]
    assert not failed, "\n---\n".join(out[-2000:] for out in failed)
    coords = CatalogClient.for_environment(seeded_env).resolve("pos_transactions").coordinates
    table = f"{coords.database or seeded_env.snowflake.database}.{coords.schema_name}.{coords.table}"
    _, rows = run_query(
        seeded_env.snowflake,
        f"select business_date, count(*) from {table} group by business_date order by business_date",
    )
    days = sample_days(seeded_env)
    assert [(str(d), n) for d, n in rows] == [(str(d), SAMPLE_ROWS) for d in days]  # one copy of each day
    raw = local_path(join_uri(seeded_env.object_store_uri, "sample", "raw", "pos_transactions"))
    for day in days:
        assert len(list((raw / f"{day:%Y/%m/%d}").glob("pos-*.parquet"))) == 1, day
