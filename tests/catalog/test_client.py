"""CatalogClient against the real service and token service on loopback: resolve, cache,
offline fallback, publish, every call authenticated."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from metricdag.auth.session import ClientCredentialsSession
from metricdag.catalog.client import (
    CatalogClient,
    CatalogUnavailableError,
    DatasetNotFoundError,
    VersionExistsError,
)
from metricdag.catalog.models import DatasetDefinition
from metricdag.errors import MetricdagError

from .conftest import RunningServer, TokenService, dataset_body, unused_port


def definition(**overrides) -> DatasetDefinition:
    return DatasetDefinition.model_validate(dataset_body(**overrides))


class RecordingSession(ClientCredentialsSession):
    """A real authenticated session that remembers the status of each answer."""

    def __init__(self, token_service: TokenService) -> None:
        super().__init__(token_service.credentials())
        self.statuses: list[int] = []

    def request(self, *args, **kwargs):  # type: ignore[override]
        resp = super().request(*args, **kwargs)
        self.statuses.append(resp.status_code)
        return resp


class NoNetworkSession(requests.Session):
    def request(self, *args, **kwargs):  # type: ignore[override]
        raise AssertionError("cached() must not touch the network")


def client_auth(client: CatalogClient):
    return client.session.credentials


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def client(catalog_server: RunningServer, cache_dir: Path, token_service: TokenService) -> CatalogClient:
    return CatalogClient(catalog_server.url, cache_dir, "local", timeout_s=5, auth=token_service.credentials())


def test_resolve_returns_environment_coordinates_and_writes_the_cache(
    client: CatalogClient, cache_dir: Path
) -> None:
    client.publish(definition())

    ds = client.resolve("pos_transactions")

    assert (ds.version, ds.environment, ds.coordinates.kind) == ("1.0.0", "local", "snowflake")
    latest = json.loads((cache_dir / "local" / "pos_transactions.json").read_text())
    assert latest["dataset"]["coordinates"]["table"] == "POS_TRANSACTIONS"
    assert latest["etag"]
    # the pinned copy lets a run locked to 1.0.0 re-read it offline
    assert client.cached("pos_transactions", "1.0.0") == ds
    assert not list((cache_dir / "local").glob(".*.tmp")), "no temp files left behind"


def test_resolve_revalidates_with_etag_and_sees_new_versions(
    catalog_server: RunningServer, cache_dir: Path, token_service: TokenService
) -> None:
    session = RecordingSession(token_service)
    client = CatalogClient(catalog_server.url, cache_dir, "local", session=session)
    client.publish(definition())
    first = client.resolve("pos_transactions")

    assert client.resolve("pos_transactions") == first
    assert session.statuses[-1] == 304

    client.publish(definition(version="1.1.0"))
    assert client.resolve("pos_transactions").version == "1.1.0"
    assert client.cached("pos_transactions").version == "1.1.0"


@pytest.mark.parametrize("entry", ["pos_transactions", "pos_transactions@1.0.0"])
def test_an_altered_cache_entry_is_refetched_and_repaired(
    catalog_server: RunningServer, cache_dir: Path, token_service: TokenService, entry: str
) -> None:
    session = RecordingSession(token_service)
    client = CatalogClient(catalog_server.url, cache_dir, "local", session=session)
    client.publish(definition())
    version = "1.0.0" if "@" in entry else None
    live = client.resolve("pos_transactions", version)
    path = cache_dir / "local" / f"{entry}.json"
    original = path.read_text()
    stored = json.loads(original)
    stored["dataset"]["coordinates"]["table"] = "SOMEONE_ELSES_TABLE"  # etag and digest left as they were
    path.write_text(json.dumps(stored))

    assert client.cached("pos_transactions", version) is None  # definitions load does not trust it either
    again = client.resolve("pos_transactions", version)

    assert again == live and again.coordinates.table == "POS_TRANSACTIONS"
    assert session.statuses[-1] == 200  # refetched, not revalidated against the altered copy
    assert json.loads(path.read_text()) == json.loads(original)  # the entry is repaired
    assert client.resolve("pos_transactions", version) == live and session.statuses[-1] == 304


def test_an_altered_cache_entry_is_not_used_when_the_catalog_is_down(
    client: CatalogClient, catalog_server: RunningServer, cache_dir: Path
) -> None:
    client.publish(definition())
    client.resolve("pos_transactions")
    path = cache_dir / "local" / "pos_transactions.json"
    stored = json.loads(path.read_text())
    stored["dataset"]["coordinates"]["schema"] = "ELSEWHERE"
    path.write_text(json.dumps(stored))
    catalog_server.stop()

    with pytest.raises(CatalogUnavailableError, match="no cached copy"):
        client.resolve("pos_transactions")


def test_pinned_version_is_resolved_and_cached_separately(client: CatalogClient) -> None:
    client.publish(definition(version="1.0.0"))
    client.publish(definition(version="1.1.0"))

    assert client.resolve("pos_transactions", "1.0.0").version == "1.0.0"
    assert client.cached("pos_transactions", "1.0.0").version == "1.0.0"
    assert client.cached("pos_transactions") is None  # latest was never asked for


def test_server_down_uses_the_cache_and_warns(
    client: CatalogClient, catalog_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    client.publish(definition())
    online = client.resolve("pos_transactions")
    catalog_server.stop()

    with caplog.at_level(logging.WARNING, logger="metricdag.catalog"):
        offline = client.resolve("pos_transactions")

    assert offline == online
    warnings = [r.getMessage() for r in caplog.records if r.name == "metricdag.catalog"]
    assert any(catalog_server.url in m and "unreachable" in m and "cached copy" in m for m in warnings), warnings


def test_server_down_and_nothing_cached_raises_naming_dataset_and_url(
    client: CatalogClient, catalog_server: RunningServer
) -> None:
    catalog_server.stop()

    with pytest.raises(CatalogUnavailableError) as exc:
        client.resolve("store_reference")

    assert isinstance(exc.value, MetricdagError)
    assert "store_reference" in str(exc.value) and catalog_server.url in str(exc.value)


def test_cached_answers_from_disk_without_network(client: CatalogClient, cache_dir: Path) -> None:
    client.publish(definition())
    online = client.resolve("pos_transactions")

    offline = CatalogClient(f"http://127.0.0.1:{unused_port()}", cache_dir, "local", session=NoNetworkSession())

    assert offline.cached("pos_transactions") == online
    assert offline.cached("never_resolved") is None
    # the cache is per environment
    assert CatalogClient("http://x", cache_dir, "prod", session=NoNetworkSession()).cached("pos_transactions") is None


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections but never answers (a hung service)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_hung_service_times_out_to_the_cache(client: CatalogClient, cache_dir: Path, silent_port: int) -> None:
    client.publish(definition())
    online = client.resolve("pos_transactions")
    hung = CatalogClient(f"http://127.0.0.1:{silent_port}", cache_dir, "local", timeout_s=0.2, auth=client_auth(client))

    assert hung.resolve("pos_transactions") == online
    with pytest.raises(CatalogUnavailableError, match="store_reference"):
        hung.resolve("store_reference")


class _Unavailable(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(503)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"maintenance")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def failing_url() -> Iterator[str]:
    """A loopback HTTP server that answers 503 to everything."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_5xx_falls_back_to_the_cache(client: CatalogClient, cache_dir: Path, failing_url: str) -> None:
    client.publish(definition())
    online = client.resolve("pos_transactions")
    failing = CatalogClient(failing_url, cache_dir, "local", auth=client_auth(client))

    assert failing.resolve("pos_transactions") == online
    with pytest.raises(CatalogUnavailableError, match="503"):
        failing.resolve("store_reference")


def test_unknown_dataset_raises_not_found_with_the_service_message(client: CatalogClient) -> None:
    client.publish(definition())

    with pytest.raises(DatasetNotFoundError, match="ghost"):
        client.resolve("ghost")
    with pytest.raises(DatasetNotFoundError, match="'staging'"):
        CatalogClient(client.base_url, client.cache_dir, "staging", auth=client_auth(client)).resolve("pos_transactions")


def test_publish_twice_raises_version_exists_and_publish_if_absent_is_idempotent(client: CatalogClient) -> None:
    assert client.publish_if_absent(definition()) is True
    assert client.publish_if_absent(definition(description="edited")) is False

    with pytest.raises(VersionExistsError, match="pos_transactions.*1.0.0"):
        client.publish(definition())
    assert client.resolve("pos_transactions").description == "point-of-sale transactions"


def test_list_refresh_and_health(client: CatalogClient, cache_dir: Path, catalog_server: RunningServer) -> None:
    client.publish(definition(name="pos_transactions"))
    client.publish(definition(name="calendar", version="2.0.0"))

    assert [(d["name"], d["latest_version"]) for d in client.list_datasets()] == [
        ("calendar", "2.0.0"),
        ("pos_transactions", "1.0.0"),
    ]
    refreshed = client.refresh(["pos_transactions", "calendar"])
    assert {n: d.version for n, d in refreshed.items()} == {"pos_transactions": "1.0.0", "calendar": "2.0.0"}
    assert (cache_dir / "local" / "calendar.json").is_file()

    assert client.health() is True
    catalog_server.stop()
    assert client.health() is False
    with pytest.raises(CatalogUnavailableError, match="127.0.0.1"):
        client.list_datasets()


def test_token_service_down_uses_the_cache_and_says_so(
    tmp_path: Path, db_url: str, client_secrets, caplog: pytest.LogCaptureFixture
) -> None:
    from metricdag_catalog_service.app import create_app
    from tests.oauth_fixtures import start_token_service
    from tests.servers import serve

    tokens = start_token_service(tmp_path / "tokens")
    catalog = serve(create_app(db_url, tokens.verifier()), "catalog")
    try:
        client = CatalogClient(catalog.url, tmp_path / "cache", "local", session=ClientCredentialsSession(tokens.credentials()))
        client.publish(definition())
        online = client.resolve("pos_transactions")
        client.session.token = {}  # the next call needs a new token
        tokens.stop()

        with caplog.at_level(logging.WARNING, logger="metricdag.catalog"):
            assert client.resolve("pos_transactions") == online
        with pytest.raises(CatalogUnavailableError) as info:
            client.resolve("store_reference")
    finally:
        catalog.stop()
        tokens.stop()

    warning = " ".join(r.getMessage() for r in caplog.records if r.name == "metricdag.catalog")
    assert "cached copy" in warning and tokens.token_url in warning
    assert "store_reference" in str(info.value) and catalog.url in str(info.value) and tokens.token_url in str(info.value)
