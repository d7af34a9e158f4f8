"""OAuth for tests: a real token service on loopback, registered clients, and minted tokens.

Import the fixtures into a ``conftest.py`` (``from tests.oauth_fixtures import ...``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from metricdag.auth.session import ClientCredentials
from metricdag.auth.tokens import JwksKeys, StaticKeys, TokenVerifier
from metricdag_token_service.app import create_token_app
from metricdag_token_service.clients import load_registry
from metricdag_token_service.keys import SigningKey, load_or_create_signing_key
from metricdag_token_service.tokens import issue_token
from tests.servers import RunningServer, free_socket, serve

AUDIENCE = "metricdag"
# client id -> scopes; the secret of each is in METRICDAG_TEST_SECRET_<ID>
CLIENTS = {
    "platform": ["catalog:read", "catalog:write", "legend:read"],
    "reader": ["catalog:read"],
    "legend-reader": ["legend:read"],
    "metricdag-local": ["catalog:read", "catalog:write", "legend:read"],  # the local environment's client
}


def secret_env(client_id: str) -> str:
    if client_id == "metricdag-local":
        return "METRICDAG_CLIENT_SECRET"
    return "METRICDAG_TEST_SECRET_" + client_id.upper().replace("-", "_")


def write_clients_file(path: Path) -> Path:
    lines = ["clients:"]
    for client_id, scopes in CLIENTS.items():
        lines.append(f"  - {{client_id: {client_id}, secret_env: {secret_env(client_id)}, scopes: [{', '.join(scopes)}]}}")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class TokenService:
    server: RunningServer
    key_dir: Path
    ttl_s: int

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"

    @property
    def jwks_url(self) -> str:
        return self.url + "/.well-known/jwks.json"

    @property
    def issuer(self) -> str:
        return self.url

    def credentials(self, client_id: str = "platform", scopes: tuple[str, ...] = ()) -> ClientCredentials:
        return ClientCredentials(self.token_url, client_id, secret_env(client_id), scopes or tuple(CLIENTS[client_id]))

    def verifier(self) -> TokenVerifier:
        """What a service started against this token service trusts (keys fetched from its JWKS URL)."""
        return TokenVerifier(JwksKeys(self.jwks_url).wait_until_available(5), self.issuer, AUDIENCE)

    def stop(self) -> None:
        self.server.stop()


def start_token_service(folder: Path, ttl_s: int = 300) -> TokenService:
    folder.mkdir(parents=True, exist_ok=True)
    registry = load_registry(write_clients_file(folder / "clients.yaml"))
    key = load_or_create_signing_key(folder / "keys")
    sock = free_socket()
    issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = serve(create_token_app(registry, key, issuer, AUDIENCE, ttl_s), "token-service", sock)
    return TokenService(server, folder / "keys", ttl_s)


@pytest.fixture(scope="session")
def client_secrets() -> Iterator[dict[str, str]]:
    """A random secret per test client, in the environment variables the clients file names."""
    # An already-set secret is kept (the local stack of this session may be using it): overwriting
    # it would lock out every later process that reads the variable afresh.
    values = {client_id: os.environ.get(secret_env(client_id)) or "s3cret-" + secrets.token_urlsafe(16) for client_id in CLIENTS}
    saved = {secret_env(c): os.environ.get(secret_env(c)) for c in CLIENTS}
    os.environ.update({secret_env(c): v for c, v in values.items()})
    yield values
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def token_service(tmp_path_factory: pytest.TempPathFactory, client_secrets: dict[str, str]) -> Iterator[TokenService]:
    service = start_token_service(tmp_path_factory.mktemp("token-service"))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def test_key() -> SigningKey:
    """A signing key for in-process apps (no token service needed)."""
    return SigningKey.generate()


Mint = Callable[..., str]
TEST_ISSUER = "https://token.test"


@pytest.fixture(scope="session")
def mint(test_key: SigningKey) -> Mint:
    """``mint("catalog:read", ttl_s=60, now=..., key=..., issuer=..., audience=...)`` -> a signed token."""

    def _mint(*scopes: str, ttl_s: float = 300, now: float | None = None, key: SigningKey | None = None,
              issuer: str = TEST_ISSUER, audience: str = AUDIENCE, subject: str = "test-client") -> str:
        return issue_token(
            key or test_key, issuer=issuer, audience=audience, subject=subject, scopes=scopes, ttl_s=ttl_s, now=now
        )

    return _mint


@pytest.fixture(scope="session")
def test_verifier(test_key: SigningKey) -> TokenVerifier:
    """Trusts tokens from :func:`mint` (in-process apps)."""
    return TokenVerifier(StaticKeys.of(test_key), TEST_ISSUER, AUDIENCE)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
