"""Snapshot files are downloaded over file:// and s3:// (moto's server) and verified before use."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest

from metricdag.catalog.models import DatasetSchema
from metricdag.catalog.snapshots import SnapshotDataset
from metricdag.io.objectstore import sha256_hex
from metricdag.settings import ObjectStoreSettings, load_environment
from metricdag_testing.snapshots import SnapshotVerificationError, encode, fetch_verified
from tests.conftest import PROJECT_ROOT

SCHEMA = DatasetSchema.model_validate(
    {"key": ["currency"], "columns": [{"name": "currency", "type": "string", "nullable": False},
                                      {"name": "usd_per_unit", "type": "float64"}]}
)
FRAME = pd.DataFrame({"currency": ["USD", "EUR"], "usd_per_unit": [1.0, 1.085]})


@pytest.fixture(scope="session")
def s3_endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture()
def env(s3_endpoint, monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    base = load_environment("local", PROJECT_ROOT)
    return base.model_copy(update={"object_store": ObjectStoreSettings(base_uri="s3://snapshots", s3_endpoint_url=s3_endpoint)})


def put(env, tmp_path, scheme: str, data: bytes) -> str:
    if scheme == "file":
        path = tmp_path / "fx_rates.csv"
        path.write_bytes(data)
        return f"file://{path}"
    s3 = boto3.client("s3", endpoint_url=env.object_store.s3_endpoint_url, region_name="us-east-1")
    s3.create_bucket(Bucket="snapshots")
    s3.put_object(Bucket="snapshots", Key="fx_rates/1.0.0/fx_rates.csv", Body=data)
    return "s3://snapshots/fx_rates/1.0.0/fx_rates.csv"


def snapshot(location: str, data: bytes, **changes) -> SnapshotDataset:
    fields = dict(dataset_id="fx_rates_sample", schema=SCHEMA, storage_location=location, version="1.0.0",
                  checksum=sha256_hex(data), format="csv", size_bytes=len(data))
    return SnapshotDataset.model_validate({**fields, **changes})


@pytest.mark.parametrize("scheme", ["file", "s3"])
def test_a_good_snapshot_is_read_typed_by_its_schema(env, tmp_path, scheme: str) -> None:
    data = encode(FRAME, "csv")
    verified = fetch_verified(env, snapshot(put(env, tmp_path, scheme, data), data))
    pd.testing.assert_frame_equal(verified.frame, FRAME)


@pytest.mark.parametrize("scheme", ["file", "s3"])
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"checksum": "sha256:" + "0" * 64}, "checksum mismatch"),
        ({"size_bytes": 1}, "bytes, the catalog says 1"),
    ],
)
def test_a_file_that_differs_from_the_catalog_is_refused(env, tmp_path, scheme, changes, message) -> None:
    data = encode(FRAME, "csv")
    with pytest.raises(SnapshotVerificationError, match=message) as info:
        fetch_verified(env, snapshot(put(env, tmp_path, scheme, data), data, **changes))
    assert "fx_rates_sample" in str(info.value)


def test_content_that_does_not_match_the_schema_is_refused(env, tmp_path) -> None:
    data = b"currency,usd_per_unit\nUSD,one\n"
    with pytest.raises(SnapshotVerificationError, match="column 'usd_per_unit': cannot read as float64"):
        fetch_verified(env, snapshot(put(env, tmp_path, "file", data), data))


def test_a_missing_file_is_named(env, tmp_path) -> None:
    with pytest.raises(SnapshotVerificationError, match="does not exist"):
        fetch_verified(env, snapshot(f"file://{tmp_path}/nothing.csv", b"x"))
