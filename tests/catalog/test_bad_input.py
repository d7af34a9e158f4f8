"""Bad input gets a 4xx with a clear message, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from .conftest import dataset_body, snapshot_body

HEX64 = "0123456789abcdef" * 4


def post_raw(api: TestClient, path: str, body: object) -> object:
    """POST ``body`` as JSON text (``\\uXXXX`` escapes kept, so odd strings reach the service)."""
    return api.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def detail_text(resp) -> str:
    detail = resp.json()["detail"]
    return detail if isinstance(detail, str) else " | ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in detail)


DATASET_CASES = {
    "unknown field": ({"colour": "blue"}, "colour", "Extra inputs are not permitted"),
    "over-long description": ({"description": "x" * 4001}, "description", "at most 4000"),
    "over-long prefix": (
        {"coordinates": {"prod": {"kind": "object_store", "prefix": "p/" * 600}}}, "prefix", "at most 1024"),
    "dotdot prefix": ({"coordinates": {"prod": {"kind": "object_store", "prefix": "a/../b"}}}, "prefix", "'..'"),
    "unknown scheme": (
        {"coordinates": {"prod": {"kind": "object_store", "prefix": "http://x/y"}}}, "prefix", "file:// or s3://"),
    "odd environment name": (
        {"coordinates": {"../etc": {"kind": "snowflake", "schema": "A", "table": "B"}}}, "coordinates", "pattern"),
    "md5 checksum": ({"checksum": "md5:abc"}, "checksum", "sha256:"),
    "short checksum": ({"checksum": "sha256:" + HEX64[:63]}, "checksum", "64 lowercase hex"),
    "upper-case checksum": ({"checksum": "sha256:" + HEX64.upper()}, "checksum", "64 lowercase hex"),
    "lone surrogate": ({"description": "\ud800"}, "description", "nicode"),
    "legend url with dotdot": (
        {"coordinates": {"local": {"kind": "legend_lambda", "url": "/lambdas/../admin"}}}, "url", "'..'"),
}


@pytest.mark.parametrize(("change", "where", "says"), DATASET_CASES.values(), ids=DATASET_CASES.keys())
def test_bad_dataset_bodies_are_422_and_store_nothing(api: TestClient, change: dict, where: str, says: str) -> None:
    resp = post_raw(api, "/datasets", dataset_body(**change))

    assert resp.status_code == 422, resp.text
    assert where in detail_text(resp) and says in detail_text(resp)
    assert api.get("/datasets").json() == []


SNAPSHOT_CASES = {
    "unknown field": ({"download_url": "x"}, "download_url", "Extra inputs"),
    "dotdot": ({"storage_location": "s3://bucket/a/../b.csv"}, "storage_location", "'..'"),
    "encoded dotdot": ({"storage_location": "s3://bucket/a/%2e%2e/b.csv"}, "storage_location", "'..'"),
    "http scheme": ({"storage_location": "http://bucket/a.csv"}, "storage_location", "file:// or s3://"),
    "no scheme": ({"storage_location": "/data/a.csv"}, "storage_location", "file:// or s3://"),
    "relative file": ({"storage_location": "file://data/a.csv"}, "storage_location", "absolute"),
    "bucket only": ({"storage_location": "s3://bucket"}, "storage_location", "name an object"),
    "spaces": ({"storage_location": "s3://bucket/a b.csv"}, "storage_location", "without spaces"),
    "over-long location": ({"storage_location": "s3://bucket/" + "a" * 2050}, "storage_location", "at most 2048"),
    "over-long id": ({"dataset_id": "a" * 129}, "dataset_id", "pattern"),
    "bad checksum": ({"checksum": "sha256:xyz"}, "checksum", "64 lowercase hex"),
    "negative size": ({"size_bytes": -1}, "size_bytes", "greater than or equal to 0"),
    "huge size": ({"size_bytes": 2**70}, "size_bytes", "less than or equal"),
    "unknown format": ({"format": "xlsx"}, "format", "'csv' or 'parquet'"),
    "huge version number": ({"version": "9" * 40}, "version", "pattern"),
}


@pytest.mark.parametrize(("change", "where", "says"), SNAPSHOT_CASES.values(), ids=SNAPSHOT_CASES.keys())
def test_bad_snapshot_bodies_are_422_and_store_nothing(api: TestClient, change: dict, where: str, says: str) -> None:
    resp = post_raw(api, "/snapshot-datasets", snapshot_body(**change))

    assert resp.status_code == 422, resp.text
    assert where in detail_text(resp) and says in detail_text(resp)
    assert api.get("/snapshot-datasets").json() == []


@pytest.mark.parametrize("path", ["/datasets", "/snapshot-datasets", "/locks"])
def test_malformed_json_is_422_and_stores_nothing(api: TestClient, path: str) -> None:
    resp = api.post(path, content=b'{"name": "pos_transactions", ', headers={"Content-Type": "application/json"})

    assert resp.status_code == 422 and "JSON decode error" in detail_text(resp)
    assert api.get("/datasets").json() == [] and api.get("/snapshot-datasets").json() == []


def test_republishing_an_existing_version_is_409_and_keeps_the_original(api: TestClient) -> None:
    assert api.post("/datasets", json=dataset_body(owner="first")).status_code == 201
    assert api.post("/snapshot-datasets", json=snapshot_body(size_bytes=1)).status_code == 201

    dataset = api.post("/datasets", json=dataset_body(owner="second"))
    snapshot = api.post("/snapshot-datasets", json=snapshot_body(size_bytes=2))

    assert dataset.status_code == snapshot.status_code == 409
    assert "immutable" in dataset.json()["detail"] and "immutable" in snapshot.json()["detail"]
    assert api.get("/datasets/pos_transactions", params={"environment": "local"}).json()["owner"] == "first"
    assert api.get("/snapshot-datasets/pos_data_v1").json()["size_bytes"] == 1


def test_a_body_over_one_mebibyte_is_413(api: TestClient) -> None:
    resp = api.post("/datasets", content=b"[" + b"0," * 600_000 + b"0]", headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert api.get("/datasets").json() == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/datasets/pos_transactions", {"environment": "x" * 64}),
        ("/datasets/pos_transactions", {"environment": "local", "version": "9" * 65}),
        ("/snapshots", {"node_name": "n" * 129, "test_environment": "dev"}),
        ("/snapshots", {"node_name": "node"}),
    ],
    ids=["long environment", "long version", "long node name", "missing environment"],
)
def test_bad_query_parameters_are_422(api: TestClient, path: str, params: dict) -> None:
    assert api.get(path, params=params).status_code == 422


@pytest.mark.parametrize("name", ["store_id\n", "store_id\nDROP"])
def test_a_column_name_with_a_trailing_newline_is_refused(name: str) -> None:
    from pydantic import ValidationError

    from metricdag.catalog.models import Column

    with pytest.raises(ValidationError, match="plain identifier"):
        Column(name=name, type="string")
