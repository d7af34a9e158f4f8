"""The catalog service over HTTP (in-process TestClient, SQLite file)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from metricdag.auth.tokens import TokenVerifier
from metricdag.catalog.models import ResolvedDataset
from metricdag_catalog_service.app import create_app

from .conftest import READ_WRITE, MakeBody, Mint, TokenService, bearer, unused_port


def resolve(api: TestClient, name: str, environment: str, **params: str):
    return api.get(f"/datasets/{name}", params={"environment": environment, **params})


def test_health(api: TestClient) -> None:
    assert api.get("/health").json() == {"status": "ok"}


def test_publish_then_resolve_per_environment(api: TestClient, make_body: MakeBody) -> None:
    created = api.post("/datasets", json=make_body())
    assert created.status_code == 201, created.text
    stored = created.json()
    assert stored["name"] == "pos_transactions" and stored["version"] == "1.0.0"
    assert stored["schema"]["key"] == ["store_id", "business_date"]
    assert stored["published_at"]

    prod = resolve(api, "pos_transactions", "prod")
    assert prod.status_code == 200
    ds = ResolvedDataset.model_validate(prod.json())
    assert ds.environment == "prod"
    assert ds.coordinates.kind == "object_store" and ds.coordinates.prefix == "reference/pos"
    assert ds.schema_.partition_column == "business_date"
    assert ds.checksum == "sha256:" + "a" * 64
    assert ds.published_at == datetime.fromisoformat(stored["published_at"])

    local = ResolvedDataset.model_validate(resolve(api, "pos_transactions", "local").json())
    assert (local.coordinates.kind, local.coordinates.schema_name, local.coordinates.table) == (
        "snowflake",
        "POS",
        "POS_TRANSACTIONS",
    )


def test_data_survives_a_restart_of_the_service(
    db_url: str, make_body: MakeBody, test_verifier: TokenVerifier, mint: Mint
) -> None:
    token = bearer(mint(*READ_WRITE))
    with TestClient(create_app(db_url, test_verifier), headers=token) as first:
        assert first.post("/datasets", json=make_body()).status_code == 201
    with TestClient(create_app(db_url, test_verifier), headers=token) as second:
        assert resolve(second, "pos_transactions", "local").json()["version"] == "1.0.0"


def test_latest_version_compares_numbers_not_strings(api: TestClient, make_body: MakeBody) -> None:
    for version in ["1.9.0", "1.10.0", "1.2.0"]:
        assert api.post("/datasets", json=make_body(version=version)).status_code == 201

    assert resolve(api, "pos_transactions", "local").json()["version"] == "1.10.0"
    assert api.get("/datasets").json() == [
        {"name": "pos_transactions", "latest_version": "1.10.0", "versions": ["1.2.0", "1.9.0", "1.10.0"]}
    ]
    assert [v["version"] for v in api.get("/datasets/pos_transactions/versions").json()] == ["1.2.0", "1.9.0", "1.10.0"]
    # a pinned version is returned as asked, with or without a leading "v"
    assert resolve(api, "pos_transactions", "local", version="1.9.0").json()["version"] == "1.9.0"
    assert resolve(api, "pos_transactions", "local", version="v1.9").json()["version"] == "1.9.0"

    assert api.post("/datasets", json=make_body(version="v2")).status_code == 201
    assert resolve(api, "pos_transactions", "local").json()["version"] == "v2"


def test_datasets_are_listed_by_name(api: TestClient, make_body: MakeBody) -> None:
    for name in ["store_reference", "calendar", "pos_transactions"]:
        api.post("/datasets", json=make_body(name=name))
    assert [d["name"] for d in api.get("/datasets").json()] == ["calendar", "pos_transactions", "store_reference"]


@pytest.mark.parametrize("second_spelling", ["1.0.0", "v1.0"])
def test_republishing_a_version_is_409_and_keeps_the_original(
    api: TestClient, make_body: MakeBody, second_spelling: str
) -> None:
    assert api.post("/datasets", json=make_body(description="original")).status_code == 201

    again = api.post("/datasets", json=make_body(version=second_spelling, description="changed"))

    assert again.status_code == 409
    assert "pos_transactions" in again.json()["detail"] and second_spelling in again.json()["detail"]
    assert resolve(api, "pos_transactions", "local").json()["description"] == "original"
    assert len(api.get("/datasets/pos_transactions/versions").json()) == 1


@pytest.mark.parametrize(
    ("name", "params", "named"),
    [
        ("no_such_dataset", {"environment": "local"}, "no_such_dataset"),
        ("pos_transactions", {"environment": "local", "version": "9.9.9"}, "9.9.9"),
        ("pos_transactions", {"environment": "staging"}, "staging"),
    ],
    ids=["unknown dataset", "unknown version", "no coordinates for environment"],
)
def test_unknown_dataset_version_or_environment_is_404_naming_it(
    api: TestClient, make_body: MakeBody, name: str, params: dict, named: str
) -> None:
    api.post("/datasets", json=make_body())

    resp = api.get(f"/datasets/{name}", params=params)

    assert resp.status_code == 404
    assert named in resp.json()["detail"]


def test_versions_of_unknown_dataset_is_404(api: TestClient) -> None:
    resp = api.get("/datasets/ghost/versions")
    assert resp.status_code == 404 and "ghost" in resp.json()["detail"]


@pytest.mark.parametrize(
    "change",
    [
        {"checksum": "md5:abc"},
        {"coordinates": {"prod": {"kind": "object_store", "prefix": "reference/../secrets"}}},
        {"colour": "blue"},
        {"name": "Bad-Name"},
    ],
    ids=["bad checksum", "dotdot in prefix", "unknown field", "bad name"],
)
def test_invalid_body_is_rejected_and_nothing_is_stored(api: TestClient, make_body: MakeBody, change: dict) -> None:
    resp = api.post("/datasets", json=make_body(**change))

    assert resp.status_code == 422
    assert api.get("/datasets").json() == []
    assert resolve(api, "pos_transactions", "prod").status_code == 404


def test_etag_and_if_none_match(api: TestClient, make_body: MakeBody) -> None:
    api.post("/datasets", json=make_body())
    first = resolve(api, "pos_transactions", "local")
    etag = first.headers["ETag"]

    unchanged = api.get(
        "/datasets/pos_transactions", params={"environment": "local"}, headers={"If-None-Match": etag}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == etag

    # another environment is another representation
    assert resolve(api, "pos_transactions", "prod").headers["ETag"] != etag

    # a new latest version invalidates the cached copy
    api.post("/datasets", json=make_body(version="1.1.0"))
    changed = api.get("/datasets/pos_transactions", params={"environment": "local"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["version"] == "1.1.0"
    assert changed.headers["ETag"] != etag


def test_module_entry_point_creates_the_database_folder_and_serves(tmp_path: Path, token_service: TokenService) -> None:
    db = tmp_path / "nested" / "state" / "catalog.db"
    port = unused_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "metricdag_catalog_service", "--db-url", f"sqlite:///{db}", "--port", str(port),
         "--jwks-url", token_service.jwks_url, "--issuer", token_service.issuer, "--log-level", "warning"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, "the service exited"
                assert time.monotonic() < deadline, "the service did not answer /health"
                time.sleep(0.05)
        assert resp.json() == {"status": "ok"}
        assert db.is_file()
        assert requests.get(f"http://127.0.0.1:{port}/docs", timeout=2).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/datasets", timeout=2).status_code == 401
        token = requests.post(
            token_service.token_url, data={"grant_type": "client_credentials"},
            auth=("reader", os.environ["METRICDAG_TEST_SECRET_READER"]), timeout=5,
        ).json()["access_token"]
        assert requests.get(f"http://127.0.0.1:{port}/datasets", headers=bearer(token), timeout=2).json() == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
