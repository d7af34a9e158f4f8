"""Persisting a SQL node's output: a table-to-table partition replace inside the warehouse, with
the ledger, audit, lineage and metadata-column records of a file load."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from metricdag.audit.store import audit_store_for
from metricdag.persistence.handler import handler
from metricdag.persistence.request import PersistError, PersistRequest
from metricdag.day_run import materialize_metric
from metricdag.spec.loader import load_metric
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.stack

SQL = PROJECT_ROOT / "metrics" / "daily_net_sales_sql"
TARGET = '"METRICDAG"."METRICS"."NET_SALES_DAILY_SQL"'
SOURCE = '"METRICDAG"."DAILY_NET_SALES_SQL_INTERMEDIATE"."NET_SALES_DAILY_SQL"'
COLUMNS = ["business_date", "store_id", "region", "transactions", "units_sold", "gross_sales_usd", "discounts_usd",
           "returns_usd", "net_sales_usd"]


def request(env, day: str, run_id: str, **changes) -> PersistRequest:
    fields = dict(
        environment=env.name, dataset="net_sales_daily_sql", database="METRICDAG", schema="METRICS",
        table="NET_SALES_DAILY_SQL", source_table=SOURCE, source_partition_column="BUSINESS_DATE",
        source_columns=COLUMNS, partition_column="business_date", partition_value=date.fromisoformat(day),
        key_columns=["business_date", "store_id"], run_id=run_id, metric="daily_net_sales_sql",
    )
    return PersistRequest(**{**fields, **changes})


@pytest.fixture(scope="module")
def persisted_day(seeded_env):
    day = sample_days(seeded_env)[-5].isoformat()
    instance = dg.DagsterInstance.ephemeral()
    ok, summary = materialize_metric(SQL, seeded_env, day, instance, verbose=False)
    assert ok, [(r.asset, r.status) for r in summary if r.status not in ("ok", "passed")]
    record = instance.fetch_materializations(
        dg.AssetKey(["daily_net_sales_sql", "persisted", "net_sales_daily_sql"]), limit=1
    ).records[0]
    return day, record.run_id, record.asset_materialization.metadata


def test_the_partition_is_copied_table_to_table_with_version_and_lineage(seeded_env, persisted_day):
    day, run_id, metadata = persisted_day
    version = load_metric(SQL, PROJECT_ROOT).version.version

    _, stamps = run_query(seeded_env.snowflake, f"SELECT DISTINCT _METRIC_VERSION, _RUN_ID FROM {TARGET} WHERE business_date = ?", (day,))
    _, history = run_query(seeded_env.snowflake, f"SELECT COUNT(*) FROM {TARGET[:-1]}__HISTORY\" WHERE business_date = ? AND _RUN_ID = ?",
                           (day, run_id))
    store = audit_store_for(seeded_env)
    publication = store.publications(seeded_env.name, "daily_net_sales_sql", dataset="net_sales_daily_sql", partition=day)[-1]
    ledger = store.last_load(seeded_env.name, TARGET, day)

    assert metadata["rows_loaded"].value == 18 and metadata["source_uri"].value == SOURCE
    assert stamps == [(version, run_id)]
    assert history == [(18,)]
    assert (publication.run_id, publication.rows, publication.status, publication.metric_version) == (run_id, 18, "loaded", version)
    assert {r["check"] for r in publication.review_results} >= {"record_count", "schema"}
    assert ledger.rows == 18 and ledger.checksum == publication.checksum and ledger.checksum.startswith("sha256:")


def test_loading_the_same_partition_again_is_recognized_by_the_ledger(seeded_env, persisted_day):
    day, run_id, _ = persisted_day

    result = handler(request(seeded_env, day, "second-attempt").to_event())

    assert (result["status"], result["rows_loaded"]) == ("already_loaded", 18)
    _, rows = run_query(seeded_env.snowflake, f"SELECT COUNT(*), MIN(_RUN_ID) FROM {TARGET} WHERE business_date = ?", (day,))
    assert rows == [(18, run_id)]


def test_a_source_column_the_table_lacks_is_refused_and_nothing_changes(seeded_env, persisted_day):
    day, run_id, _ = persisted_day

    with pytest.raises(PersistError, match=r"source table .*NET_SALES_DAILY_SQL.* has no column\(s\) net_sales_eur"):
        handler(request(seeded_env, day, "bad", source_columns=[*COLUMNS, "net_sales_eur"]).to_event())

    _, rows = run_query(seeded_env.snowflake, f"SELECT COUNT(*), MIN(_RUN_ID) FROM {TARGET} WHERE business_date = ?", (day,))
    assert rows == [(18, run_id)]


def test_a_request_names_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one of source_uri"):
        PersistRequest(environment="local", dataset="d", database="DB", schema="S", table="T",
                       source_uri="file:///x/a.parquet", source_table=SOURCE, source_partition_column="D",
                       source_columns=["a"], partition_column="d", partition_value=date(2024, 5, 1), run_id="r")
