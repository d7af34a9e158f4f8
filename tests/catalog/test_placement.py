"""A catalog service that knows the environments refuses, at publish time, coordinates that point
outside an environment's object store or Legend base URL (422, nothing stored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metricdag.auth.tokens import TokenVerifier
from metricdag.settings import load_environment
from metricdag_catalog_service.app import create_app
from metricdag_catalog_service.placement import bases_from_environments

from .conftest import READ_WRITE, Mint, bearer, dataset_body

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def placed(db_url: str, test_verifier: TokenVerifier, mint: Mint) -> Iterator[TestClient]:
    app = create_app(db_url, test_verifier, bases_from_environments(ROOT))
    with TestClient(app, headers=bearer(mint(*READ_WRITE))) as client:
        yield client


CASES = {
    "absolute file prefix": ("local", {"kind": "object_store", "prefix": "file:///etc/"}, "file:///etc/"),
    "another bucket": ("prod", {"kind": "object_store", "prefix": "s3://someone-else/data"}, "s3://someone-else/data"),
    "lambda on another port": ("local", {"kind": "legend_lambda", "url": "http://127.0.0.1:1/steal"}, "127.0.0.1:1"),
    "lambda on another host": ("prod", {"kind": "legend_lambda", "url": "https://evil.example/x"}, "evil.example"),
}


@pytest.mark.parametrize(("env", "coords", "named"), CASES.values(), ids=CASES.keys())
def test_coordinates_outside_their_environment_are_422(placed: TestClient, env: str, coords: dict, named: str) -> None:
    body = dataset_body(coordinates={env: coords})

    resp = placed.post("/datasets", json=body)

    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert "pos_transactions" in detail and f"coordinates.{env}" in detail and named in detail
    assert placed.get("/datasets").json() == []


def test_coordinates_inside_and_for_unknown_environments_are_published(placed: TestClient) -> None:
    local = load_environment("local", ROOT)
    body = dataset_body(coordinates={
        "local": {"kind": "object_store", "prefix": local.object_store_uri + "/reference/stores", "format": "csv"},
        "prod": {"kind": "legend_lambda", "url": "https://legend.internal.example/lambdas/fx"},
        "staging": {"kind": "object_store", "prefix": "file:///anything"},  # the service does not know staging
    })

    assert placed.post("/datasets", json=body).status_code == 201


def test_without_environments_the_service_stores_what_it_is_sent(api: TestClient) -> None:
    body = dataset_body(coordinates={"local": {"kind": "object_store", "prefix": "file:///etc/"}})
    assert api.post("/datasets", json=body).status_code == 201
