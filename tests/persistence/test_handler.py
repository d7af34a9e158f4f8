"""The persister against the local Snowflake server: what a user sees in the table afterwards."""

from __future__ import annotations

import io
import json
import uuid
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metricdag.errors import ConfigError
from metricdag.io.objectstore import sha256_hex
from metricdag.persistence.handler import (
    CopiedFile,
    check_partition_values,
    handler,
    parse_copy_result,
    verify_load,
)
from metricdag.persistence.invoke import invoke_persister
from metricdag.persistence.request import PersistError, PersistRequest, PersistResult, TransientPersistError
from metricdag.retries import is_transient
from metricdag.settings import Environment, PersisterSettings
from metricdag.warehouse import WarehouseError, run_query

DAY1 = date(2024, 3, 1)
DAY2 = date(2024, 3, 2)


# ------------------------------------------------------------------------------------ helpers


def sales(day: date, stores: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sales_date": [day] * len(stores),
            "store": list(stores),
            "net_sales": list(stores.values()),
            "units": [int(v) for v in stores.values()],
        }
    )


def write_parquet(folder: Path, frame: pd.DataFrame) -> str:
    """A uniquely named Parquet file, as each run attempt writes one."""
    path = folder / f"net_sales_daily-{uuid.uuid4().hex[:12]}.parquet"
    frame.to_parquet(path, index=False)
    return "file://" + str(path)


@pytest.fixture
def table() -> str:
    return "net_sales_" + uuid.uuid4().hex[:8]


def event(target_table: str, source_uri: str, day: date, **overrides: object) -> dict:
    return {
        "environment": "local",
        "dataset": "net_sales_daily",
        "database": "metricdag",
        "schema": "metrics",
        "table": target_table,
        "source_uri": source_uri,
        "partition_column": "sales_date",
        "partition_value": day.isoformat(),
        "key_columns": ["store"],
        "run_id": "run-" + uuid.uuid4().hex[:8],
        **overrides,
    }


def rows(env: Environment, table: str, day: date | None = None, database: str = "METRICDAG") -> list[tuple]:
    where, params = ('WHERE "SALES_DATE" = ?', (day,)) if day else ("", None)
    _, result = run_query(
        env.snowflake,
        f'SELECT "SALES_DATE", "STORE", "NET_SALES", "UNITS" FROM "{database}"."METRICS"."{table.upper()}" '
        f'{where} ORDER BY "SALES_DATE", "STORE"',
        params,
    )
    return result


def as_rows(frame: pd.DataFrame) -> list[tuple]:
    ordered = frame.sort_values(["sales_date", "store"])
    return [
        (r.sales_date, r.store, float(r.net_sales), int(r.units))
        for r in ordered.itertuples(index=False)
    ]


# -------------------------------------------------------------------------- loads, end to end


def test_loads_a_partition_and_the_table_holds_exactly_its_rows(env, objectstore_dir, table):
    frame = sales(DAY1, {"berlin": 120.5, "paris": 99.0, "rome": 10.25})
    uri = write_parquet(objectstore_dir, frame)

    result = PersistResult.model_validate(handler(event(table, uri, DAY1)))

    assert rows(env, table) == as_rows(frame)
    assert result.table == f'"METRICDAG"."METRICS"."{table.upper()}"'
    assert (result.rows_loaded, result.parquet_rows, result.partition) == (3, 3, DAY1)
    assert result.checksum == sha256_hex(Path(uri[len("file://") :]).read_bytes())
    _, columns = run_query(
        env.snowflake,
        "SELECT column_name, data_type FROM METRICDAG.information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        (table.upper(),),
    )
    assert columns == [("SALES_DATE", "DATE"), ("STORE", "TEXT"), ("NET_SALES", "FLOAT"), ("UNITS", "NUMBER"),
                       ("_METRIC_VERSION", "TEXT"), ("_RUN_ID", "TEXT"), ("_LOADED_AT", "TIMESTAMP_NTZ")]


def test_rerunning_a_partition_with_a_new_file_leaves_exactly_one_copy(env, objectstore_dir, table):
    first = sales(DAY1, {"berlin": 1.0, "paris": 2.0, "rome": 3.0})
    second = sales(DAY1, {"berlin": 10.0, "paris": 20.0})  # a corrected rerun: other values, fewer rows

    handler(event(table, write_parquet(objectstore_dir, first), DAY1))
    handler(event(table, write_parquet(objectstore_dir, second), DAY1))
    result = handler(event(table, write_parquet(objectstore_dir, second), DAY1))

    assert rows(env, table) == as_rows(second)
    assert result["rows_loaded"] == 2


def test_replacing_one_partition_leaves_other_partitions_untouched(env, objectstore_dir, table):
    day2 = sales(DAY2, {"berlin": 7.0, "oslo": 8.0})
    handler(event(table, write_parquet(objectstore_dir, sales(DAY1, {"berlin": 1.0})), DAY1))
    handler(event(table, write_parquet(objectstore_dir, day2), DAY2))

    handler(event(table, write_parquet(objectstore_dir, sales(DAY1, {"paris": 5.0})), DAY1))

    assert rows(env, table, DAY2) == as_rows(day2)
    assert rows(env, table, DAY1) == as_rows(sales(DAY1, {"paris": 5.0}))


def test_a_file_with_a_row_of_another_date_is_rejected_and_the_table_is_unchanged(env, objectstore_dir, table):
    good = sales(DAY1, {"berlin": 1.0, "paris": 2.0})
    handler(event(table, write_parquet(objectstore_dir, good), DAY1))
    stray = pd.concat([sales(DAY1, {"rome": 3.0}), sales(DAY2, {"oslo": 4.0})], ignore_index=True)
    stray_uri = write_parquet(objectstore_dir, stray)

    with pytest.raises(PersistError) as caught:
        handler(event(table, stray_uri, DAY1))

    message = str(caught.value)
    assert "net_sales_daily" in message and stray_uri in message and "2024-03-02" in message
    assert rows(env, table) == as_rows(good)


def test_a_reused_file_name_is_an_error_and_the_previous_rows_stay(env, objectstore_dir, table):
    """Snowflake skips a file it loaded before; the DELETE already ran, so this proves the
    rollback: the partition still holds the rows of the first load."""
    path = objectstore_dir / f"reused-{table}.parquet"
    first = sales(DAY1, {"berlin": 1.0, "paris": 2.0})
    first.to_parquet(path, index=False)
    handler(event(table, "file://" + str(path), DAY1))
    sales(DAY1, {"rome": 9.0}).to_parquet(path, index=False)

    with pytest.raises(PersistError, match="skipped .*uniquely named"):
        handler(event(table, "file://" + str(path), DAY1))

    assert rows(env, table) == as_rows(first)


def test_a_copy_that_fails_after_the_delete_rolls_back(env, objectstore_dir, table):
    first = sales(DAY1, {"berlin": 1.0, "paris": 2.0})
    handler(event(table, write_parquet(objectstore_dir, first), DAY1))
    drifted = sales(DAY1, {"rome": 3.0}).assign(units=["three"])  # a NUMBER column now holds text
    drifted_uri = write_parquet(objectstore_dir, drifted)

    with pytest.raises(PersistError) as caught:
        handler(event(table, drifted_uri, DAY1))

    message = str(caught.value)
    assert f'"{table.upper()}"' in message and "SALES_DATE=2024-03-01" in message and "rolled back" in message
    assert rows(env, table) == as_rows(first)


def test_loads_into_a_database_and_schema_that_do_not_exist_yet(env, objectstore_dir, table):
    frame = sales(DAY1, {"berlin": 1.0})
    handler(event(table, write_parquet(objectstore_dir, frame), DAY1, database="fresh_db"))

    assert rows(env, table, database="FRESH_DB") == as_rows(frame)


def test_a_load_into_an_existing_table_runs_no_ddl(env, objectstore_dir, table, monkeypatch):
    """Only the first load creates anything; later loads find the database, schema, table, history
    and lock tables in one metadata query (a CREATE ... IF NOT EXISTS of each on every load was most
    of a load's fixed cost)."""
    import metricdag.persistence.handler as handler_module

    handler(event(table, write_parquet(objectstore_dir, sales(DAY1, {"berlin": 1.0})), DAY1, metric="m"))
    ran: list[str] = []
    real = handler_module.execute

    def recording(cursor, sql, params=None):
        ran.append(sql)
        return real(cursor, sql, params)

    monkeypatch.setattr(handler_module, "execute", recording)
    second = sales(DAY2, {"paris": 2.0})
    handler(event(table, write_parquet(objectstore_dir, second), DAY2, metric="m"))

    assert [s for s in ran if s.split()[0].upper() in {"CREATE", "ALTER", "DROP"}] == []
    assert sum("INFORMATION_SCHEMA" in s for s in ran) == 1
    assert rows(env, table, DAY2) == as_rows(second)


# ---------------------------------------------------------------- refused before any SQL runs


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("table", 'sales"; DROP TABLE x; --'),
        ("schema", "metrics;"),
        ("database", "my db"),
        ("partition_column", "sales_date' OR '1'='1"),
        ("key_columns", ["store id"]),
    ],
)
def test_identifiers_with_quotes_semicolons_or_spaces_are_rejected_before_connecting(
    env, objectstore_dir, table, monkeypatch, field, value
):
    uri = write_parquet(objectstore_dir, sales(DAY1, {"berlin": 1.0}))
    # without a password any connection attempt fails with a ConfigError: getting the identifier
    # error instead proves the request was refused before a connection (and any SQL) existed
    monkeypatch.delenv("METRICDAG_SNOWFLAKE_PASSWORD")

    with pytest.raises(PersistError) as caught:
        handler(event(table, uri, DAY1, **{field: value}))

    bad = value[0] if isinstance(value, list) else value
    assert "invalid Snowflake" in str(caught.value) and repr(bad) in str(caught.value)


def test_a_file_name_that_is_unsafe_in_sql_is_rejected_before_connecting(env, objectstore_dir, table, monkeypatch):
    path = objectstore_dir / "it's.parquet"
    sales(DAY1, {"berlin": 1.0}).to_parquet(path, index=False)
    monkeypatch.delenv("METRICDAG_SNOWFLAKE_PASSWORD")

    with pytest.raises(PersistError, match="invalid file name"):
        handler(event(table, "file://" + str(path), DAY1))


def test_unknown_event_keys_are_refused(env, objectstore_dir, table):
    with pytest.raises(PersistError, match="overwrite"):
        handler(event(table, "file:///nowhere.parquet", DAY1, overwrite=True))


def test_the_password_is_needed_only_to_connect_and_its_absence_is_explained(env, objectstore_dir, table, monkeypatch):
    monkeypatch.delenv("METRICDAG_SNOWFLAKE_PASSWORD")
    uri = write_parquet(objectstore_dir, sales(DAY1, {"berlin": 1.0}))

    with pytest.raises(ConfigError, match="METRICDAG_SNOWFLAKE_PASSWORD"):
        handler(event(table, uri, DAY1))


# ------------------------------------------------------------------------- pure verification


def test_verification_rejects_a_row_count_mismatch_naming_table_partition_and_both_counts():
    copied = [CopiedFile("file:///x/a.parquet", "LOADED", 9)]

    with pytest.raises(PersistError) as caught:
        verify_load(table='"DB"."S"."T"', partition="D=2024-03-01", parquet_rows=10, copied=copied, partition_count=9)

    message = str(caught.value)
    assert '"DB"."S"."T"' in message and "D=2024-03-01" in message and "10" in message and "9" in message


def test_verification_rejects_a_partition_holding_more_rows_than_the_file():
    copied = [CopiedFile("file:///x/a.parquet", "LOADED", 10)]

    with pytest.raises(PersistError, match="holds 20"):
        verify_load(table="T", partition="D=2024-03-01", parquet_rows=10, copied=copied, partition_count=20)


def test_verification_accepts_a_complete_load():
    copied = [CopiedFile("file:///x/a.parquet", "LOADED", 10)]
    assert verify_load(table="T", partition="P", parquet_rows=10, copied=copied, partition_count=10) == 10


@pytest.mark.parametrize(
    ("copied", "expected"),
    [
        ([], "no file"),
        ([CopiedFile("file:///x/a.parquet", "LOAD_SKIPPED", 0, "File was loaded before.")], "uniquely named"),
        ([CopiedFile("file:///x/a.parquet", "LOAD_FAILED", 0, "bad row 3")], "bad row 3"),
    ],
)
def test_verification_rejects_copies_that_did_not_load_the_file(copied, expected):
    with pytest.raises(PersistError, match=expected):
        verify_load(table="T", partition="P", parquet_rows=0, copied=copied, partition_count=0)


def test_copy_results_are_read_by_column_name():
    columns = ["file", "status", "rows_parsed", "rows_loaded", "error_limit", "errors_seen", "first_error"]
    result = parse_copy_result(columns, [("file:///d/a.parquet", "loaded", 4, 4, 1, 0, None)])
    assert result == [CopiedFile("file:///d/a.parquet", "LOADED", 4, None)]
    assert parse_copy_result(["status"], [("Copy executed with 0 files processed.",)]) == []


def test_partition_check_names_every_kind_of_offending_value():
    with pytest.raises(PersistError) as caught:
        check_partition_values(
            [DAY1, DAY2, None], DAY1, dataset="net_sales_daily", source_uri="file:///f.parquet", partition_column="d"
        )
    assert "2024-03-02" in str(caught.value) and "NULL" in str(caught.value)
    check_partition_values([DAY1], DAY1, dataset="x", source_uri="file:///f.parquet", partition_column="d")


# ------------------------------------------------------------------------------ invocation


class LoopbackLambda:
    """Stands in for boto3's Lambda client: runs the real handler on the JSON payload and
    answers the way AWS Lambda does (``FunctionError`` + ``errorMessage`` on failure)."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def invoke(self, **kwargs: object) -> dict:
        self.calls.append(kwargs)
        try:
            body, error = handler(json.loads(kwargs["Payload"])), None
        except Exception as exc:
            body, error = {"errorMessage": str(exc), "errorType": type(exc).__name__}, "Unhandled"
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}
        if error:
            response["FunctionError"] = error
        return response


def lambda_env(env: Environment) -> Environment:
    return env.model_copy(update={"persister": PersisterSettings(invoke="lambda", function_name="metricdag-persister")})


def test_invoking_in_process_loads_the_partition(env, objectstore_dir, table):
    frame = sales(DAY1, {"berlin": 1.0, "paris": 2.0})
    request = PersistRequest.model_validate(event(table, write_parquet(objectstore_dir, frame), DAY1))

    result = invoke_persister(request, env)

    assert result.rows_loaded == 2 and rows(env, table) == as_rows(frame)


def test_invoking_the_lambda_sends_the_request_as_json_and_returns_its_result(env, objectstore_dir, table):
    frame = sales(DAY1, {"berlin": 1.0})
    request = PersistRequest.model_validate(event(table, write_parquet(objectstore_dir, frame), DAY1))
    client = LoopbackLambda()

    result = invoke_persister(request, lambda_env(env), lambda_client=client)

    (call,) = client.calls
    assert call["FunctionName"] == "metricdag-persister" and call["InvocationType"] == "RequestResponse"
    assert json.loads(call["Payload"])["schema"] == "metrics"
    assert result.rows_loaded == 1 and rows(env, table) == as_rows(frame)


def test_a_lambda_function_error_becomes_a_persist_error_with_its_message(env, objectstore_dir, table):
    stray = pd.concat([sales(DAY1, {"rome": 3.0}), sales(DAY2, {"oslo": 4.0})], ignore_index=True)
    request = PersistRequest.model_validate(event(table, write_parquet(objectstore_dir, stray), DAY1))

    with pytest.raises(PersistError, match=r"metricdag-persister .*failed: PersistError: .*2024-03-02"):
        invoke_persister(request, lambda_env(env), lambda_client=LoopbackLambda())


# ------------------------------------------------------------------- the server and secrets


def test_run_query_returns_column_names_and_rows(env):
    columns, result = run_query(env.snowflake, "SELECT 1 AS one, 'a' AS letter")
    assert [c.upper() for c in columns] == ["ONE", "LETTER"] and result == [(1, "a")]


def test_query_errors_name_the_statement_and_never_the_password(env, local_snowflake):
    with pytest.raises(WarehouseError) as caught:
        run_query(env.snowflake, 'SELECT * FROM "METRICDAG"."METRICS"."NO_SUCH_TABLE"')

    assert "NO_SUCH_TABLE" in str(caught.value)
    assert local_snowflake.password not in str(caught.value)
    assert local_snowflake.password not in local_snowflake.log_path.read_text()


def test_the_server_keeps_data_across_a_restart(env, objectstore_dir, table, local_snowflake):
    # a database other than the connection's default: after a restart it is visible only
    # because the server attaches every existing database file at start-up
    frame = sales(DAY1, {"berlin": 1.0, "paris": 2.0})
    handler(event(table, write_parquet(objectstore_dir, frame), DAY1, database="kept_db"))

    assert local_snowflake.stop() is True  # shuts down on SIGTERM, no SIGKILL needed
    local_snowflake.start()

    assert rows(env, table, database="KEPT_DB") == as_rows(frame)
    assert "local snowflake stopped; data kept in" in local_snowflake.log_path.read_text()


# ------------------------------------------------------------ transient or permanent, and why


def test_a_persist_while_snowflake_is_down_is_transient_and_names_no_secret(stopped_snowflake, table):
    server, env, folder = stopped_snowflake
    handler(event(table, write_parquet(folder, sales(DAY1, {"berlin": 1.0})), DAY1))  # it works while up
    assert server.stop() is True

    with pytest.raises(TransientPersistError) as caught:
        handler(event(table, write_parquet(folder, sales(DAY1, {"paris": 2.0})), DAY1))

    message = str(caught.value)
    assert is_transient(caught.value)  # so the step's RetryPolicy runs it again
    assert f'"{table.upper()}"' in message and "250001" in message and "Could not connect" in message
    assert server.password not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # the connector's own error stays out


def test_a_lambda_reports_a_transient_persist_by_its_error_type(stopped_snowflake, table):
    server, env, folder = stopped_snowflake
    request = PersistRequest.model_validate(event(table, write_parquet(folder, sales(DAY1, {"berlin": 1.0})), DAY1))
    server.stop()

    with pytest.raises(PersistError, match=r"failed: TransientPersistError: .*250001") as caught:
        invoke_persister(request, lambda_env(env), lambda_client=LoopbackLambda())

    assert is_transient(caught.value)


def test_a_refused_load_is_permanent_in_process_and_through_the_lambda(env, objectstore_dir, table):
    stray = pd.concat([sales(DAY1, {"rome": 3.0}), sales(DAY2, {"oslo": 4.0})], ignore_index=True)
    request = PersistRequest.model_validate(event(table, write_parquet(objectstore_dir, stray), DAY1))

    with pytest.raises(PersistError) as in_process:
        invoke_persister(request, env)
    with pytest.raises(PersistError) as through_lambda:
        invoke_persister(request, lambda_env(env), lambda_client=LoopbackLambda())

    assert not is_transient(in_process.value) and not is_transient(through_lambda.value)
    assert not isinstance(in_process.value, TransientPersistError)


def test_a_sql_error_is_permanent_and_a_stopped_server_transient(stopped_snowflake):
    server, env, _ = stopped_snowflake
    with pytest.raises(WarehouseError) as sql_error:
        run_query(env.snowflake, 'SELECT * FROM "METRICDAG"."METRICS"."NO_SUCH_TABLE"')
    server.stop()
    with pytest.raises(WarehouseError) as down:
        run_query(env.snowflake, "SELECT 1")

    assert not is_transient(sql_error.value) and is_transient(down.value)
    assert server.password not in str(down.value)


def test_a_busy_partition_reported_by_a_lambda_stays_transient_and_busy():
    from metricdag.persistence.invoke import error_from_lambda
    from metricdag.persistence.request import PartitionBusyError

    error = error_from_lambda("PartitionBusyError", "another load of T partition P is in progress")

    assert isinstance(error, PartitionBusyError) and is_transient(error)
    assert not is_transient(error_from_lambda("PersistError", "row count mismatch"))
