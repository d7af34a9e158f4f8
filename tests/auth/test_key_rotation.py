"""A token-key rotation against the real token service and the Legend stand-in: a service
accepts tokens signed by the new key at once (it refetches the key set on an unknown kid)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from metricdag.auth.session import ClientCredentialsSession
from metricdag.auth.tokens import JwksKeys, TokenVerifier
from metricdag_localstack.legend_service import create_legend_app
from metricdag_token_service.app import create_token_app
from metricdag_token_service.clients import load_registry
from metricdag_token_service.keys import KEY_FILE, SigningKey, load_or_create_signing_key
from metricdag_token_service.tokens import issue_token
from tests.oauth_fixtures import AUDIENCE, TokenService, bearer, start_token_service, write_clients_file
from tests.servers import RunningServer, serve

FX = "/lambdas/fx_rates?date=2024-06-03"


def restart_with_a_new_key(service: TokenService) -> TokenService:
    """Stop ``service`` and start it again on the same port (same issuer) with a new signing key."""
    port, folder = service.server.port, service.key_dir.parent
    service.stop()
    (service.key_dir / KEY_FILE).unlink()
    key = load_or_create_signing_key(service.key_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    registry = load_registry(write_clients_file(folder / "clients.yaml"))
    server = serve(create_token_app(registry, key, service.issuer, AUDIENCE, service.ttl_s), "token-service", sock)
    return TokenService(server, service.key_dir, service.ttl_s)


@pytest.fixture
def tokens(tmp_path: Path, client_secrets) -> Iterator[list[TokenService]]:
    services = [start_token_service(tmp_path / "token-service")]
    yield services
    services[-1].stop()


@pytest.fixture
def keys(tokens: list[TokenService]) -> JwksKeys:
    return JwksKeys(tokens[0].jwks_url).wait_until_available(5)


@pytest.fixture
def legend(tokens: list[TokenService], keys: JwksKeys) -> Iterator[RunningServer]:
    server = serve(create_legend_app(TokenVerifier(keys, tokens[0].issuer, AUDIENCE)), "legend")
    yield server
    server.stop()


def fresh_token(service: TokenService) -> str:
    return ClientCredentialsSession(service.credentials("legend-reader")).access_token()


def test_a_token_signed_by_a_rotated_key_is_accepted_at_once(
    tokens: list[TokenService], keys: JwksKeys, legend: RunningServer
) -> None:
    before = requests.get(legend.url + FX, headers=bearer(fresh_token(tokens[0])), timeout=5)
    assert before.status_code == 200, before.text

    tokens.append(restart_with_a_new_key(tokens[0]))
    fetches = keys.fetches
    started = time.monotonic()
    after = requests.get(legend.url + FX, headers=bearer(fresh_token(tokens[-1])), timeout=10)

    assert after.status_code == 200, after.text  # not 401 for the 30 s the old cooldown lasted
    assert time.monotonic() - started < 5
    assert keys.fetches == fetches + 1
    # the new key is now known: no further fetch
    assert requests.get(legend.url + FX, headers=bearer(fresh_token(tokens[-1])), timeout=5).status_code == 200
    assert keys.fetches == fetches + 1


def test_an_unknown_kid_gets_one_fetch_then_is_refused_without_hammering(
    tokens: list[TokenService], keys: JwksKeys, legend: RunningServer
) -> None:
    stranger = SigningKey.generate()
    forged = issue_token(stranger, issuer=tokens[0].issuer, audience=AUDIENCE, subject="legend-reader",
                         scopes=["legend:read"], ttl_s=60)
    fetches = keys.fetches

    first = requests.get(legend.url + FX, headers=bearer(forged), timeout=10)
    again = [requests.get(legend.url + FX, headers=bearer(forged), timeout=5).status_code for _ in range(5)]

    assert first.status_code == 401 and "unknown key" in first.json()["detail"]
    assert again == [401] * 5
    assert keys.fetches == fetches + 1  # one fetch for that kid, then refused from memory
    # valid tokens are unaffected
    assert requests.get(legend.url + FX, headers=bearer(fresh_token(tokens[0])), timeout=5).status_code == 200
