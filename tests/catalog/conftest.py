"""Fixtures of the catalog tests: dataset bodies, the service in-process, and a real server.

In-process apps (``api``) trust tokens minted by the ``mint`` fixture; the real server
(``catalog_server``) trusts the real token service on loopback, like the deployed service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metricdag.auth.tokens import TokenVerifier
from metricdag_catalog_service.app import create_app
from tests.oauth_fixtures import (  # noqa: F401  (fixtures)
    Mint,
    TokenService,
    bearer,
    client_secrets,
    mint,
    test_key,
    test_verifier,
    token_service,
)
from tests.servers import RunningServer, free_socket, serve, unused_port  # noqa: F401

MakeBody = Callable[..., dict[str, Any]]
READ_WRITE = ("catalog:read", "catalog:write")


def dataset_body(name: str = "pos_transactions", version: str = "1.0.0", **overrides: Any) -> dict[str, Any]:
    """A valid ``DatasetDefinition`` JSON body with coordinates for ``local`` and ``prod``."""
    body: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": "point-of-sale transactions",
        "owner": "retail-data",
        "schema": {
            "columns": [
                {"name": "store_id", "type": "string", "nullable": False},
                {"name": "business_date", "type": "date", "nullable": False},
                {"name": "amount", "type": "decimal"},
            ],
            "key": ["store_id", "business_date"],
            "partition_column": "business_date",
        },
        "coordinates": {
            "local": {"kind": "snowflake", "schema": "POS", "table": "POS_TRANSACTIONS"},
            "prod": {"kind": "object_store", "prefix": "reference/pos", "format": "csv", "partitioned": True},
        },
        "checksum": "sha256:" + "a" * 64,
    }
    body.update(overrides)
    return body


def snapshot_body(dataset_id: str = "pos_data_v1", version: str = "v1.2", **overrides: Any) -> dict[str, Any]:
    """A valid snapshot dataset version (the spec's section 7 example, with a schema)."""
    body: dict[str, Any] = {
        "dataset_id": dataset_id,
        "schema": {
            "columns": [
                {"name": "store_id", "type": "string", "nullable": False},
                {"name": "amount", "type": "float64"},
            ],
            "key": ["store_id"],
        },
        "storage_location": f"s3://bucket/path/{dataset_id}.csv",
        "version": version,
        "checksum": "sha256:" + "ab" * 32,
        "format": "csv",
        "size_bytes": 123456,
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_body() -> MakeBody:
    return dataset_body


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog' / 'catalog.db'}"


@pytest.fixture
def api(db_url: str, test_verifier: TokenVerifier, mint: Mint) -> Iterator[TestClient]:
    """The service in-process over a fresh SQLite file; requests carry a read+write token."""
    with TestClient(create_app(db_url, test_verifier), headers=bearer(mint(*READ_WRITE))) as client:
        yield client


@pytest.fixture
def catalog_server(db_url: str, token_service: TokenService) -> Iterator[RunningServer]:
    """The real service under uvicorn in a background thread, trusting the real token service."""
    running = serve(create_app(db_url, token_service.verifier()), "catalog-server")
    yield running
    running.stop()
