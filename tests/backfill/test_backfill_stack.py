"""``metricdag backfill`` end to end against the local stack.

One copy of the project holds ``backfill_probe`` (tests/backfill/probe.py); the tests run in
file order and each leaves production holding the factor-1 rows of the seven sample days.
"""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.audit.store import audit_store_for
from metricdag.backfill.run import run_backfill
from metricdag.cli import main
from metricdag.factory import build_metric_definitions, job_name
from metricdag.persistence.publish import drop_staging
from metricdag.settings import load_environment
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.backfill.probe import METRIC, days_in, make_project, staging_schemas, steer, table_rows

pytestmark = pytest.mark.stack

TABLE = "METRICS.BACKFILL_PROBE_DAILY"
QUALIFIED = '"METRICDAG"."METRICS"."BACKFILL_PROBE_DAILY"'


@pytest.fixture(scope="module")
def probe(seeded_env, tmp_path_factory):
    project, folder = make_project(tmp_path_factory.mktemp("backfill"), TABLE)
    env = load_environment("local", project)
    days = sample_days(seeded_env)
    return env, project, folder, days


@pytest.fixture()
def cli(probe, monkeypatch, capsys):
    env, project, _, _ = probe
    monkeypatch.setenv("METRICDAG_HOME", str(project))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance per command

    def run(*args: str) -> tuple[int, str]:
        code = main(["backfill", METRIC, *args])
        return code, capsys.readouterr().out

    return run


def test_seven_days_are_staged_then_published_at_once(probe):
    env, _, folder, days = probe
    assert len(days) == 7
    production_while_staging = []
    instance = dg.DagsterInstance.ephemeral()

    result = run_backfill(
        folder, env, days, instance,
        on_done=lambda outcome: production_while_staging.append(days_in(env, TABLE)),
    )

    assert result.ok, [p.causes for p in result.failed]
    assert production_while_staging == [{}] * 7  # nothing reached production before the publish
    assert [p.day for p in result.partitions] == days  # oldest first
    assert sorted(days_in(env, TABLE)) == [d.isoformat() for d in days]
    (table,) = result.published
    assert table.table == QUALIFIED and len(table.changed) == 7
    assert staging_schemas(env) == []  # dropped after publishing
    # the persisted asset's latest materialization names the production table, not the staging one
    latest = instance.get_latest_materialization_event(dg.AssetKey([METRIC, "persisted", "net_sales_daily"]))
    assert latest.asset_materialization.partition == days[-1].isoformat()
    assert latest.asset_materialization.metadata["table"].value == QUALIFIED
    # consumers hear of each published day once, from the publish (the staging loads announce nothing)
    announced = published_events(env)
    assert sorted(e["partition"] for e in announced if e["table"] == QUALIFIED) == [d.isoformat() for d in days]
    assert not [e for e in announced if "__STAGING_" in e["table"]]
    # the audit store records each published partition as the production partition's load
    store = audit_store_for(env)
    for day in days:
        entry = store.last_load(env.name, QUALIFIED, day.isoformat())
        assert entry is not None and entry.rows == days_in(env, TABLE)[day.isoformat()]
    # explain sees the production partition as the backfill published it, never the staging load
    (publication,) = store.publications(env.name, METRIC, partition=days[-1].isoformat())
    assert publication.table == QUALIFIED and publication.metric_version
    assert publication.rows_run_id == result.partitions[-1].run_id
    history = run_query(env.snowflake, f"select count(*) from {QUALIFIED[:-1]}__HISTORY\"")[1]
    assert history[0][0] == sum(days_in(env, TABLE).values())  # kept for explain --compare-to


def test_the_same_backfill_again_changes_no_row(probe, cli):
    env, _, _, days = probe
    before = table_rows(env, TABLE)
    assert before

    code, out = cli("--from", days[0].isoformat(), "--to", days[-1].isoformat())

    assert code == 0, out
    assert table_rows(env, TABLE) == before  # every column, metadata columns included
    assert f"published {QUALIFIED}: 7 partition(s), 0 changed, 7 already identical" in out
    assert len([e for e in published_events(env) if e["table"] == QUALIFIED]) == 7  # nothing changed: no event
    assert "7 partition(s) published in one transaction" in out


def test_a_daily_run_after_the_backfill_finds_its_rows_already_loaded(probe):
    """The publish wrote the production partitions' ledger entries: the normal path's next load of
    the same content is skipped as already loaded (the table agrees), and changes no row."""
    from sqlalchemy import select

    from metricdag.audit.models import LoadRecord

    env, _, folder, days = probe
    before = table_rows(env, TABLE)
    job = build_metric_definitions(folder, env).resolve_job_def(job_name(METRIC))
    assert job.execute_in_process(partition_key=days[-1].isoformat(), instance=dg.DagsterInstance.ephemeral()).success
    with audit_store_for(env).session() as s:
        last = s.scalars(select(LoadRecord).where(LoadRecord.table == QUALIFIED,
                         LoadRecord.partition == days[-1].isoformat()).order_by(LoadRecord.id.desc())).first()
    assert last.status == "already_loaded"
    assert table_rows(env, TABLE) == before


def test_a_review_failure_on_one_day_leaves_production_unchanged(probe, cli):
    env, _, folder, days = probe
    before = table_rows(env, TABLE)
    steer(folder, factor=1.2, empty_on=days[-1].isoformat())  # every day differs; the last one fails review
    try:
        code, out = cli("--from", days[0].isoformat(), "--to", days[-1].isoformat())
        assert code == 1, out
        assert f"FAILED {days[-1]}: check record_count on {METRIC}/metric_calculation/net_sales_daily failed" in out
        assert "1 of 7 partition(s) failed; nothing was published, production is unchanged" in out
        assert not [line for line in out.splitlines() if line.startswith("FAILED") and str(days[-1]) not in line]
        assert table_rows(env, TABLE) == before
        assert staging_schemas(env) == []  # dropped on failure too

        # --keep-staging keeps what was computed: the six passing days, staged but not published
        code, out = cli("--from", days[0].isoformat(), "--to", days[-1].isoformat(), "--keep-staging")
        assert code == 1, out
        (kept,) = staging_schemas(env)
        assert f"kept staging schema(s): {kept}" in out
        staged = days_in(env, f"{kept}.BACKFILL_PROBE_DAILY")
        assert sorted(staged) == [d.isoformat() for d in days[:-1]]
        assert table_rows(env, TABLE) == before
        drop_staging(env.snowflake, env.snowflake.database, [kept])
    finally:
        steer(folder)


def test_a_failing_step_is_named_with_its_error(probe):
    env, _, folder, days = probe
    before = table_rows(env, TABLE)
    steer(folder, factor=1.2, raise_on=days[1].isoformat())
    try:
        result = run_backfill(folder, env, days[:2], dg.DagsterInstance.ephemeral())
    finally:
        steer(folder)
    (failed,) = result.failed
    assert failed.day == days[1]
    assert failed.causes == [f"step {METRIC}__net_sales failed: node 'net_sales': ValueError: no net sales today ({days[1]})"]
    assert not result.published and table_rows(env, TABLE) == before and staging_schemas(env) == []


def test_in_place_mode_loads_day_by_day(probe, cli):
    env, _, folder, days = probe
    before = set(table_rows(env, TABLE))
    last3 = days[-3:]
    steer(folder, factor=1.1, empty_on=days[-1].isoformat())
    try:
        code, out = cli("--from", last3[0].isoformat(), "--to", last3[-1].isoformat(), "--publish-mode", "in-place")
        assert code == 1, out
        assert f"FAILED {days[-1]}" in out and "2 of 3 partition(s) loaded in place" in out
        after = table_rows(env, TABLE)
        changed = {str(r[0]) for r in after if r not in before}
        assert changed == {d.isoformat() for d in last3[:2]}  # the passing days loaded, the failed day kept
        assert staging_schemas(env) == []
    finally:
        steer(folder)
    code, out = cli("--from", days[0].isoformat(), "--to", days[-1].isoformat())  # back to factor 1
    assert code == 0, out
    assert "2 changed" in out


def test_a_cli_backfill_publishes_what_per_partition_runs_load(probe, seeded_env, tmp_path):
    """A backfill launched in the UI runs one partition per run through the normal persist path
    (BackfillPolicy.multi_run(1)); its rows equal what ``metricdag backfill`` published."""
    env, _, _, days = probe
    project, folder = make_project(tmp_path, "METRICS.BACKFILL_PROBE_UI_DAILY")
    ui_env = load_environment("local", project)
    job = build_metric_definitions(folder, ui_env).resolve_job_def(job_name(METRIC))
    instance = dg.DagsterInstance.ephemeral()
    for day in days:
        assert job.execute_in_process(partition_key=day.isoformat(), instance=instance, raise_on_error=False).success

    columns = "business_date, store_id, region, transactions, units_sold, gross_sales_usd, net_sales_usd"
    published = table_rows_cols(env, TABLE, columns)
    launched = table_rows_cols(env, "METRICS.BACKFILL_PROBE_UI_DAILY", columns)
    assert published and launched == published


def table_rows_cols(env, table: str, columns: str) -> list[tuple]:
    from metricdag.warehouse import run_query

    _, rows = run_query(env.snowflake, f"SELECT {columns} FROM {table} ORDER BY business_date, store_id")
    return [tuple(r) for r in rows]


def published_events(env) -> list[dict]:
    """The payloads of every ``dataset_published`` event in the local inbox about a backfill_probe table."""
    import json
    from pathlib import Path

    events = [json.loads(p.read_text()) for p in sorted(Path(env.path(env.events.inbox_dir)).glob("*.json"))]
    return [e["payload"] for e in events
            if e["type"] == "dataset_published" and "BACKFILL_PROBE_DAILY" in e["payload"].get("table", "")]
