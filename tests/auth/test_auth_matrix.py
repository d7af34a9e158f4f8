"""The auth matrix of every protected service, on real servers on loopback: no token, expired,
wrong scope, forged signature and valid tokens answer 401 / 401 / 403 / 401 / 200, never 5xx."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from metricdag_catalog_service.app import create_app
from metricdag_localstack.legend_service import create_legend_app
from metricdag_token_service.keys import SigningKey, load_or_create_signing_key
from metricdag_token_service.tokens import issue_token
from tests.oauth_fixtures import AUDIENCE, TokenService
from tests.servers import RunningServer, serve


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, token_service: TokenService) -> Iterator[RunningServer]:
    db = tmp_path_factory.mktemp("catalog") / "catalog.db"
    server = serve(create_app(f"sqlite:///{db}", token_service.verifier()), "catalog")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def legend(token_service: TokenService) -> Iterator[RunningServer]:
    server = serve(create_legend_app(token_service.verifier()), "legend")
    yield server
    server.stop()


def real_key(service: TokenService) -> SigningKey:
    return load_or_create_signing_key(service.key_dir)


def token_for(service: TokenService, *scopes: str, **overrides) -> str:
    args = {"issuer": service.issuer, "audience": AUDIENCE, "subject": "platform", "scopes": scopes, "ttl_s": 300}
    args.update(overrides)
    key = args.pop("key", None) or real_key(service)
    return issue_token(key, **args)


def fetched_token(service: TokenService, client_id: str, secret: str) -> str:
    resp = requests.post(service.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=5)
    resp.raise_for_status()
    return resp.json()["access_token"]


DATASET = {
    "name": "calendar", "version": "1.0.0",
    "schema": {"columns": [{"name": "day", "type": "date"}]},
    "coordinates": {"local": {"kind": "snowflake", "schema": "REF", "table": "CALENDAR"}},
}
# (service, method, path, json body, the scope the call needs, a client with it, one without, status when allowed)
CALLS = [
    ("catalog", "GET", "/datasets", None, "catalog:read", "reader", "legend-reader", 200),
    ("catalog", "POST", "/datasets", DATASET, "catalog:write", "platform", "reader", 201),
    ("legend", "GET", "/lambdas/fx_rates?date=2024-06-03", None, "legend:read", "legend-reader", "reader", 200),
]


def call(servers: dict[str, RunningServer], service: str, method: str, path: str, body, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, servers[service].url + path, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize(("service", "method", "path", "body", "scope", "allowed", "refused", "ok"), CALLS,
                         ids=[f"{c[0]} {c[1]} {c[2].split('?')[0]}" for c in CALLS])
def test_auth_matrix(
    catalog: RunningServer, legend: RunningServer, token_service: TokenService, client_secrets,
    service, method, path, body, scope, allowed, refused, ok,
) -> None:
    servers = {"catalog": catalog, "legend": legend}
    forger = SigningKey(SigningKey.generate().private_key, real_key(token_service).kid)  # same kid, other key
    cases = {
        "no token": (None, 401, "needs a bearer token"),
        "expired": (token_for(token_service, scope, now=time.time() - 3600, ttl_s=60), 401, "expired"),
        "wrong scope": (fetched_token(token_service, refused, client_secrets[refused]), 403, scope),
        "forged signature": (token_for(token_service, scope, key=forger), 401, "signature"),
        "valid": (fetched_token(token_service, allowed, client_secrets[allowed]), ok, None),
    }
    for case, (token, status, says) in cases.items():
        resp = call(servers, service, method, path, body, token)
        assert resp.status_code == status, f"{case}: {resp.status_code} {resp.text}"
        if case == "valid":
            continue
        assert says in resp.json()["detail"], f"{case}: {resp.json()}"
        challenge = resp.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer realm=")
        if status == 403:
            assert 'error="insufficient_scope"' in challenge and f'scope="{scope}"' in challenge
        if token is not None:
            assert token not in resp.text


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer a.b.c", "Bearer " + "x" * 5000, "Bearer \u00e9\u00e9.\u00e9.\u00e9",
     "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.x", "Bearer eyJraWQiOiJcdWQ4MDAiLCJhbGciOiJSUzI1NiJ9.e30.x"],
    ids=["no token", "blank", "basic", "garbage", "huge", "non-ascii", "kid is a list", "kid with surrogate"],
)
def test_garbage_authorization_is_401_never_5xx(catalog: RunningServer, legend: RunningServer, header: str) -> None:
    for url in (catalog.url + "/datasets", legend.url + "/lambdas/fx_rates?date=2024-06-03"):
        resp = requests.get(url, headers={"Authorization": header.encode("utf-8")}, timeout=10)
        assert resp.status_code == 401, (url, resp.status_code, resp.text)


def test_every_catalog_operation_needs_a_token(catalog: RunningServer) -> None:
    """Walks the OpenAPI document, so an endpoint added later is covered too."""
    spec = requests.get(catalog.url + "/openapi.json", timeout=5).json()
    public = {"/health"}
    checked = 0
    for path, operations in spec["paths"].items():
        if path in public:
            continue
        concrete = path.replace("{", "").replace("}", "")  # /datasets/{name} -> /datasets/name
        for method in operations:
            resp = requests.request(method.upper(), catalog.url + concrete, json={}, timeout=5)
            assert resp.status_code == 401, (method, path, resp.status_code)
            checked += 1
        assert operations, path
    assert checked >= 10
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert requests.get(catalog.url + "/docs", timeout=5).status_code == 200
