"""Catalog coordinates cannot make a run read outside the object store or send the platform's
token to another service: against the seeded local stack, with entries published to its real
catalog and a real listener on another loopback port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.models import DatasetDefinition, ResolvedDataset
from metricdag.factory.assets import read_source
from metricdag.resources import resources_for
from metricdag.retries import classify_failures
from metricdag.settings import Environment

pytestmark = pytest.mark.stack

DAY = date(2024, 6, 3)
SCHEMA = {"columns": [{"name": "secret", "type": "string"}]}


class Listener:
    """A plain HTTP server on a free loopback port that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append((self.path, dict(self.headers)))
                body = b'{"result": {"columns": ["secret"], "rows": []}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.stop()


def publish_and_resolve(env: Environment, name: str, coordinates: dict) -> ResolvedDataset:
    client = CatalogClient.for_environment(env)
    client.publish_if_absent(DatasetDefinition.model_validate(
        {"name": name, "version": "1.0.0", "schema": SCHEMA, "coordinates": {"local": coordinates}}
    ))
    return client.resolve(name)


def source(env: Environment, resolved: ResolvedDataset):
    """What the sourcing asset does with a resolved dataset, with the environment's real resources."""
    res = resources_for(env)
    with classify_failures(f"sourcing {resolved.name!r}"):
        return read_source(resolved, DAY, res["snowflake"], res["object_store"], env.snowflake.database, res["legend"])


def test_an_object_store_prefix_outside_the_base_is_refused(seeded_env: Environment, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("secret\ntop-secret-value\n")
    resolved = publish_and_resolve(
        seeded_env, "probe_outside_prefix", {"kind": "object_store", "prefix": f"file://{outside}", "format": "csv"}
    )

    with pytest.raises(dg.Failure) as info:
        source(seeded_env, resolved)

    message = info.value.description
    assert not info.value.allow_retries  # permanent: fails at once
    assert "probe_outside_prefix" in message and f"file://{outside}" in message and seeded_env.object_store_uri in message
    assert "top-secret-value" not in message


@pytest.mark.parametrize("prefix", ["file:///etc/", "file:///etc/passwd"])
def test_an_absolute_system_path_is_refused(seeded_env: Environment, prefix: str) -> None:
    name = "probe_etc" if prefix.endswith("/") else "probe_etc_passwd"
    resolved = publish_and_resolve(seeded_env, name, {"kind": "object_store", "prefix": prefix, "format": "csv"})

    with pytest.raises(dg.Failure, match=f"{name}.*{prefix}.*outside the environment's object store"):
        source(seeded_env, resolved)


def test_a_full_uri_inside_the_object_store_still_reads(seeded_env: Environment) -> None:
    resolved = publish_and_resolve(
        seeded_env, "probe_inside_prefix",
        {"kind": "object_store", "prefix": seeded_env.object_store_uri + "/sample/reference/stores", "format": "csv"},
    )
    frame = source(seeded_env, resolved)
    assert len(frame) > 0 and "store_id" in frame.columns


def test_a_lambda_url_on_another_loopback_port_gets_no_request(seeded_env: Environment, listener: Listener) -> None:
    resolved = publish_and_resolve(
        seeded_env, "probe_foreign_lambda", {"kind": "legend_lambda", "url": listener.url + "/steal"}
    )

    with pytest.raises(dg.Failure) as info:
        source(seeded_env, resolved)

    assert listener.requests == []  # nothing was sent, so no Authorization header either
    message = info.value.description
    assert not info.value.allow_retries
    assert "probe_foreign_lambda" in message and listener.url + "/steal" in message
    assert seeded_env.legend.base_url in message


def test_the_platform_session_refuses_to_send_its_token_elsewhere(seeded_env: Environment, listener: Listener) -> None:
    from metricdag.auth.session import ForbiddenDestinationError

    session = resources_for(seeded_env)["legend"].session()

    with pytest.raises(ForbiddenDestinationError, match=listener.url):
        session.get(listener.url + "/anything", timeout=5)
    assert listener.requests == []
    assert session.get(seeded_env.catalog.url + "/datasets", timeout=5).status_code == 200  # its own services: yes
