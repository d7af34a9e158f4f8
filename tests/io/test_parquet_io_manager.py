"""The Parquet IO manager round-trips partitions over file:// and s3:// (moto's server)."""

from __future__ import annotations

import boto3
import dagster as dg
import pandas as pd
import pytest

from metricdag.io.resource import ObjectStoreResource
from metricdag.io.io_manager import MissingPartitionError, ParquetIOManager
from metricdag.io.objectstore import store_for
from metricdag.retries import is_transient

KEY = dg.AssetKey(["daily_net_sales", "review", "net_sales_daily"])
FRAME = pd.DataFrame({"store_id": ["S001", "S002"], "net_sales_usd": [10.5, 20.25]})


@pytest.fixture(scope="session")
def s3_endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture()
def aws_env(aws_credentials):
    return None


def managers(tmp_path, s3_endpoint):
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="metrics")
    return {
        "file": ParquetIOManager(object_store=ObjectStoreResource(base_uri=f"file://{tmp_path}/store", environment="local")),
        "s3": ParquetIOManager(
            object_store=ObjectStoreResource(base_uri="s3://metrics/base", environment="prod", s3_endpoint_url=s3_endpoint)
        ),
    }


def write(manager: ParquetIOManager, frame: pd.DataFrame, run_id: str, partition: str = "2024-06-03") -> None:
    manager.handle_output(dg.build_output_context(asset_key=KEY, partition_key=partition, run_id=run_id), frame)


def read(manager: ParquetIOManager, partition: str = "2024-06-03") -> pd.DataFrame:
    return manager.load_input(dg.build_input_context(asset_key=KEY, partition_key=partition))


@pytest.mark.parametrize("scheme", ["file", "s3"])
def test_round_trip_and_key_layout(scheme, tmp_path, s3_endpoint, aws_env):
    manager = managers(tmp_path, s3_endpoint)[scheme]
    write(manager, FRAME, run_id="run-a")

    pd.testing.assert_frame_equal(read(manager), FRAME)
    uri = manager.object_store.location(KEY, "2024-06-03")
    env = "local" if scheme == "file" else "prod"
    assert f"/{env}/daily_net_sales/review/net_sales_daily/2024/06/03/run-a-" in uri
    assert uri.endswith(".parquet")


@pytest.mark.parametrize("scheme", ["file", "s3"])
def test_a_rewrite_replaces_the_partition_and_leaves_others(scheme, tmp_path, s3_endpoint, aws_env):
    manager = managers(tmp_path, s3_endpoint)[scheme]
    write(manager, FRAME, run_id="run-a")
    write(manager, FRAME.head(1), run_id="run-x", partition="2024-06-02")
    write(manager, FRAME.iloc[::-1].reset_index(drop=True), run_id="run-b")

    pd.testing.assert_frame_equal(read(manager), FRAME.iloc[::-1].reset_index(drop=True))
    prefix = manager.object_store.location(KEY, "2024-06-03").rsplit("/", 1)[0]
    files = store_for(prefix, s3_endpoint).list(prefix)
    assert len(files) == 1 and "run-b-" in files[0].uri  # one whole file per partition
    assert len(read(manager, "2024-06-02")) == 1


def test_missing_partition_fails_for_good_naming_the_asset_partition_and_command(tmp_path):
    manager = ParquetIOManager(object_store=ObjectStoreResource(base_uri=f"file://{tmp_path}", environment="local"))
    with pytest.raises(dg.Failure) as caught:
        read(manager, "2024-06-01")

    assert caught.value.allow_retries is False
    assert (
        "daily_net_sales/review/net_sales_daily has no data for partition 2024-06-01; "
        "run: metricdag run --metric daily_net_sales --date 2024-06-01"
    ) in caught.value.description
    assert f"{tmp_path}/local/daily_net_sales/review/net_sales_daily/2024/06/01" in caught.value.description


@pytest.mark.parametrize("scheme", ["file", "s3"])
def test_run_location_is_the_file_of_that_run_not_the_newest(scheme, tmp_path, s3_endpoint, aws_env):
    manager = managers(tmp_path, s3_endpoint)[scheme]
    write(manager, FRAME, run_id="run-a")
    prefix = manager.object_store.location(KEY, "2024-06-03").rsplit("/", 1)[0]
    # another run's file, newer, in the same folder (written while run-a was between its steps)
    store = store_for(prefix, s3_endpoint)
    store.put_bytes(f"{prefix}/run-b-1.parquet", store.get_bytes(manager.object_store.location(KEY, "2024-06-03")))
    assert "run-b-1" in manager.object_store.location(KEY, "2024-06-03")

    assert "/run-a-" in manager.object_store.run_location(KEY, "2024-06-03", ["run-a"])
    assert "/run-b-1" in manager.object_store.run_location(KEY, "2024-06-03", ["run-c", "run-b"])  # a re-execution of run-b
    with pytest.raises(MissingPartitionError) as caught:
        manager.object_store.run_location(KEY, "2024-06-03", ["run"])  # a prefix of both run ids, neither's file
    assert not is_transient(caught.value)
    assert "written by run run" in str(caught.value)
    assert "run: metricdag run --metric daily_net_sales --date 2024-06-03" in str(caught.value)
