"""Run version locks: recorded once, immutable, readable again (also offline)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metricdag.catalog.client import CatalogClient, CatalogError, CatalogUnavailableError, LockConflictError
from metricdag.catalog.models import DatasetDefinition

from .conftest import MakeBody, RunningServer, TokenService, dataset_body


def lock(run_id: str = "8f1c-run", **versions: str) -> dict:
    return {"run_id": run_id, "metric": "daily_net_sales", "environment": "local",
            "versions": versions or {"pos_transactions": "1.0.0", "fx_rates": "1.1.0"}}


@pytest.fixture
def published(api: TestClient, make_body: MakeBody) -> TestClient:
    for name, version in (("pos_transactions", "1.0.0"), ("fx_rates", "1.0.0"), ("fx_rates", "1.1.0")):
        assert api.post("/datasets", json=make_body(name=name, version=version)).status_code == 201
    return api


def test_a_lock_is_recorded_once_and_read_back(published: TestClient) -> None:
    first = published.post("/locks", json=lock())
    same = published.post("/locks", json=lock(pos_transactions="v1.0", fx_rates="1.1.0"))  # same versions, other spelling

    assert first.status_code == 201 and same.status_code == 200
    assert same.json() == first.json()
    got = published.get("/locks/8f1c-run").json()
    assert got["versions"] == {"pos_transactions": "1.0.0", "fx_rates": "1.1.0"} and got["recorded_at"]


def test_other_versions_for_a_locked_run_are_409_and_change_nothing(published: TestClient) -> None:
    published.post("/locks", json=lock())

    resp = published.post("/locks", json=lock(pos_transactions="1.0.0", fx_rates="1.0.0"))

    assert resp.status_code == 409
    assert "fx_rates: 1.1.0 vs 1.0.0" in resp.json()["detail"]
    assert published.get("/locks/8f1c-run").json()["versions"]["fx_rates"] == "1.1.0"


def test_unpublished_versions_cannot_be_locked(published: TestClient) -> None:
    resp = published.post("/locks", json=lock(pos_transactions="1.0.0", stores="2.0.0"))

    assert resp.status_code == 422 and "stores 2.0.0" in resp.json()["detail"]
    assert published.get("/locks/8f1c-run").status_code == 404


def test_unknown_run_is_404_naming_it(api: TestClient) -> None:
    resp = api.get("/locks/no-such-run")
    assert resp.status_code == 404 and "'no-such-run'" in resp.json()["detail"]


def test_client_records_and_reads_locks_and_falls_back_to_its_cache(
    catalog_server: RunningServer, tmp_path: Path, token_service: TokenService, caplog: pytest.LogCaptureFixture
) -> None:
    client = CatalogClient(catalog_server.url, tmp_path, "local", auth=token_service.credentials())
    for version in ("1.0.0", "1.1.0"):
        client.publish(DatasetDefinition.model_validate(dataset_body(name="fx_rates", version=version)))

    recorded = client.record_lock("run-1", "daily_net_sales", {"fx_rates": "1.0.0"})
    assert client.record_lock("run-1", "daily_net_sales", {"fx_rates": "1.0.0"}) == recorded
    with pytest.raises(LockConflictError, match="1.0.0 vs 1.1.0"):
        client.record_lock("run-1", "daily_net_sales", {"fx_rates": "1.1.0"})
    with pytest.raises(CatalogError, match="no published version fx_rates 7.0.0"):
        client.record_lock("run-2", "daily_net_sales", {"fx_rates": "7.0.0"})
    assert client.get_lock("run-1") == recorded
    assert client.get_lock("run-unknown") is None

    catalog_server.stop()
    with caplog.at_level(logging.WARNING, logger="metricdag.catalog"):
        assert client.get_lock("run-1") == recorded
    assert any("cached version lock of run run-1" in r.getMessage() for r in caplog.records)
    with pytest.raises(CatalogUnavailableError, match=f"run 'run-9'.*{catalog_server.url}"):
        client.get_lock("run-9")


def test_an_altered_cached_lock_is_not_used_offline(
    catalog_server: RunningServer, tmp_path: Path, token_service: TokenService
) -> None:
    client = CatalogClient(catalog_server.url, tmp_path, "local", auth=token_service.credentials())
    for version in ("1.0.0", "1.1.0"):
        client.publish(DatasetDefinition.model_validate(dataset_body(name="fx_rates", version=version)))
    client.record_lock("run-1", "daily_net_sales", {"fx_rates": "1.0.0"})
    path = tmp_path / "local" / "locks" / "run-1.json"
    path.write_text(path.read_text().replace('"1.0.0"', '"1.1.0"'))
    catalog_server.stop()

    with pytest.raises(CatalogUnavailableError, match="run 'run-1'"):
        client.get_lock("run-1")
