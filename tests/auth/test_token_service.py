"""The local token service over HTTP: client credentials in, signed expiring tokens out."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from metricdag.errors import SpecError
from metricdag_token_service.clients import load_registry
from metricdag_token_service.keys import KEY_FILE, load_or_create_signing_key
from tests.oauth_fixtures import AUDIENCE, TokenService
from tests.servers import unused_port


def ask(service: TokenService, auth=None, **form: str) -> requests.Response:
    return requests.post(service.token_url, data=form, auth=auth, timeout=5)


def test_client_credentials_grant_returns_a_signed_expiring_token(token_service: TokenService, client_secrets) -> None:
    resp = ask(token_service, ("reader", client_secrets["reader"]), grant_type="client_credentials")

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", token_service.ttl_s, "catalog:read")
    assert resp.headers["Cache-Control"] == "no-store"
    jwks = requests.get(token_service.jwks_url, timeout=5).json()
    key = jwt.PyJWKSet.from_dict(jwks).keys[0]
    claims = jwt.decode(body["access_token"], key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=token_service.issuer)
    assert claims["sub"] == "reader" and claims["scope"] == "catalog:read"
    assert claims["exp"] - claims["iat"] in (token_service.ttl_s, token_service.ttl_s + 1)  # exp rounded up
    assert jwt.get_unverified_header(body["access_token"])["kid"] == key.key_id


def test_credentials_may_be_sent_in_the_body_and_scopes_narrowed(token_service: TokenService, client_secrets) -> None:
    resp = ask(
        token_service, grant_type="client_credentials", client_id="platform",
        client_secret=client_secrets["platform"], scope="legend:read",
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == "legend:read"


@pytest.mark.parametrize(
    ("auth", "form", "status", "error", "says"),
    [
        (("reader", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client", "wrong secret"),
        (("nobody", "x"), {"grant_type": "client_credentials"}, 401, "invalid_client", "unknown client"),
        (None, {"grant_type": "client_credentials"}, 401, "invalid_client", "authentication is required"),
        ("reader", {}, 400, "invalid_request", "grant_type is missing"),
        ("reader", {"grant_type": "password"}, 400, "unsupported_grant_type", "client_credentials"),
        ("reader", {"grant_type": "client_credentials", "scope": "catalog:write"}, 400, "invalid_scope", "catalog:write"),
    ],
    ids=["wrong secret", "unknown client", "no credentials", "no grant type", "other grant", "scope not allowed"],
)
def test_refusals_follow_rfc_6749(token_service: TokenService, client_secrets, auth, form, status, error, says) -> None:
    if auth == "reader":
        auth = ("reader", client_secrets["reader"])

    resp = ask(token_service, auth, **form)

    assert resp.status_code == status
    assert resp.json()["error"] == error and says in resp.json()["error_description"]
    assert client_secrets["reader"] not in resp.text
    if status == 401 and auth is not None:
        assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_a_client_whose_secret_variable_is_unset_gets_no_token(token_service: TokenService, monkeypatch) -> None:
    monkeypatch.delenv("METRICDAG_TEST_SECRET_READER")
    assert ask(token_service, ("reader", ""), grant_type="client_credentials").status_code == 401


def test_form_body_is_required(token_service: TokenService, client_secrets) -> None:
    resp = requests.post(token_service.token_url, json={"grant_type": "client_credentials"},
                         auth=("reader", client_secrets["reader"]), timeout=5)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_the_signing_key_is_created_once_owner_only_and_reused(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path / "keys")
    mode = stat.S_IMODE((tmp_path / "keys" / KEY_FILE).stat().st_mode)

    again = load_or_create_signing_key(tmp_path / "keys")

    assert mode == 0o600
    assert again.kid == first.kid
    assert again.jwks() == first.jwks()


def test_clients_file_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text("clients:\n  - client_id: a\n    secret: plain-text-secret\n    scopes: [catalog:read]\n")

    with pytest.raises(SpecError) as info:
        load_registry(path)

    assert f"{path}:3: unknown key 'secret'" in str(info.value)


def test_the_checked_in_clients_file_names_variables_not_secrets() -> None:
    registry = load_registry(Path(__file__).resolve().parents[2] / "pipeline-configs" / "auth" / "clients.yaml")
    assert [(c.client_id, c.secret_env) for c in registry.clients] == [("metricdag-local", "METRICDAG_CLIENT_SECRET")]


def test_module_entry_point_serves_tokens(tmp_path: Path, client_secrets) -> None:
    from tests.oauth_fixtures import write_clients_file

    port = unused_port()
    issuer = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "metricdag_token_service", "--clients", str(write_clients_file(tmp_path / "clients.yaml")),
         "--key-dir", str(tmp_path / "keys"), "--issuer", issuer, "--port", str(port), "--ttl", "60",
         "--log-level", "warning"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                resp = requests.post(issuer + "/oauth/token", data={"grant_type": "client_credentials"},
                                     auth=("reader", client_secrets["reader"]), timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, "the token service exited"
                assert time.monotonic() < deadline, "the token service did not answer"
                time.sleep(0.05)
        assert resp.status_code == 200 and resp.json()["expires_in"] == 60
        assert (tmp_path / "keys" / KEY_FILE).is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
