"""The client session: tokens fetched on first use and refreshed before they expire; secrets
and tokens never in logs or error messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request

from metricdag.auth.middleware import BearerAuthMiddleware, read_write_scopes
from metricdag.auth.session import ClientCredentials, ClientCredentialsSession, InsecureTransportError, TokenRequestError
from metricdag.errors import ConfigError
from tests.oauth_fixtures import TokenService, start_token_service
from tests.servers import RunningServer, serve, unused_port


def echo_app(service: TokenService) -> FastAPI:
    """A protected service that records the token of every request it accepted or refused."""
    app = FastAPI()
    app.state.seen = []

    @app.get("/whoami")
    def whoami(request: Request) -> dict:
        p = request.state.principal
        return {"subject": p.subject, "scopes": sorted(p.scopes), "expires_at": p.expires_at.timestamp()}

    app.add_middleware(
        BearerAuthMiddleware, verifier=service.verifier(), required_scope=read_write_scopes("catalog"), realm="echo"
    )
    return app


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory: pytest.TempPathFactory, client_secrets) -> Iterator[TokenService]:
    """A token service whose tokens live 3 seconds."""
    service = start_token_service(tmp_path_factory.mktemp("short"), ttl_s=3)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def echo(short_tokens: TokenService) -> Iterator[RunningServer]:
    server = serve(echo_app(short_tokens), "echo")
    yield server
    server.stop()


class CountingSession(ClientCredentialsSession):
    """Remembers the status of every answer a service gave."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.statuses: list[int] = []

    def _send(self, *args, **kwargs):
        resp = super()._send(*args, **kwargs)
        self.statuses.append(resp.status_code)
        return resp


def test_token_is_fetched_on_first_use_and_reused(short_tokens: TokenService, echo: RunningServer) -> None:
    session = CountingSession(short_tokens.credentials("reader"))
    assert session.tokens_fetched == 0  # constructing it makes no call

    first = session.get(echo.url + "/whoami", timeout=5).json()
    second = session.get(echo.url + "/whoami", timeout=5).json()

    assert first == second and first["subject"] == "reader" and first["scopes"] == ["catalog:read"]
    assert session.tokens_fetched == 1


def test_token_is_refreshed_before_it_expires(short_tokens: TokenService, echo: RunningServer) -> None:
    """Tokens live 3 s and are renewed in their last fifth: every call goes out well before the
    expiry (as the service sees it) of the token it carries."""
    session = CountingSession(short_tokens.credentials("reader"))
    left: list[float] = []  # seconds the token had left when each call went out
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        sent = time.time()
        left.append(session.get(echo.url + "/whoami", timeout=5).json()["expires_at"] - sent)
        time.sleep(0.1)

    assert session.tokens_fetched >= 2
    assert set(session.statuses) == {200}
    assert min(left) >= 0.4, f"a call went out {min(left):.2f} s before its token expired"


def test_a_refused_token_is_replaced_once(token_service: TokenService, echo: RunningServer, short_tokens: TokenService) -> None:
    """A token the service does not trust (here: from another token service) is dropped and a new one fetched."""
    session = CountingSession(short_tokens.credentials("reader"))
    session.token = {"access_token": "not-a-token", "token_type": "Bearer", "expires_in": 300, "expires_at": time.time() + 300}

    resp = session.get(echo.url + "/whoami", timeout=5)

    assert resp.status_code == 200
    assert session.statuses == [401, 200] and session.tokens_fetched == 1


def test_wrong_scope_is_403_and_not_retried(short_tokens: TokenService, echo: RunningServer) -> None:
    session = CountingSession(short_tokens.credentials("legend-reader"))
    resp = session.get(echo.url + "/whoami", timeout=5)
    assert resp.status_code == 403 and "catalog:read" in resp.json()["detail"]
    assert session.statuses == [403]


def test_missing_secret_variable_is_named(token_service: TokenService, monkeypatch) -> None:
    monkeypatch.delenv("METRICDAG_TEST_SECRET_READER")
    session = ClientCredentialsSession(token_service.credentials("reader"))

    with pytest.raises(ConfigError, match="METRICDAG_TEST_SECRET_READER is not set.*'reader'"):
        session.get(token_service.url + "/health")


def wrong_secret(service: TokenService, monkeypatch, value: str) -> ClientCredentials:
    """Credentials of 'reader' whose variable holds a wrong secret (the token service, in this
    process, keeps reading the right one from METRICDAG_TEST_SECRET_READER)."""
    monkeypatch.setenv("METRICDAG_TEST_WRONG_SECRET", value)
    return ClientCredentials(service.token_url, "reader", "METRICDAG_TEST_WRONG_SECRET", ("catalog:read",))


def test_refusal_names_client_and_token_service_but_not_the_secret(token_service: TokenService, monkeypatch) -> None:
    session = ClientCredentialsSession(wrong_secret(token_service, monkeypatch, "wrong-secret-value"))

    with pytest.raises(TokenRequestError) as info:
        session.get(token_service.url + "/health")

    message = str(info.value)
    assert "'reader'" in message and token_service.token_url in message and "invalid_client" in message
    assert "wrong-secret-value" not in message


def test_unreachable_token_service_is_named() -> None:
    creds = ClientCredentials(f"http://127.0.0.1:{unused_port()}/oauth/token", "reader", "METRICDAG_TEST_SECRET_READER")
    with pytest.raises(TokenRequestError, match="unreachable"):
        ClientCredentialsSession(creds, timeout_s=1).get("http://127.0.0.1:1/x")


def test_requests_to_remote_plain_http_are_refused_before_any_call(token_service: TokenService) -> None:
    session = ClientCredentialsSession(token_service.credentials("reader"))
    with pytest.raises(InsecureTransportError, match="catalog.example.com"):
        session.get("http://catalog.example.com/datasets")
    assert session.tokens_fetched == 0


def test_no_secret_or_token_in_any_log_record(
    short_tokens: TokenService, echo: RunningServer, client_secrets, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, including requests-oauthlib, oauthlib and urllib3
    session = ClientCredentialsSession(short_tokens.credentials("reader"))
    session.get(echo.url + "/whoami", timeout=5)
    token = session.token["access_token"]
    session.token = {"access_token": "stale", "expires_in": 300, "expires_at": time.time() + 300}
    session.get(echo.url + "/whoami", timeout=5)  # refused, then a new token
    with pytest.raises(TokenRequestError):
        wrong = wrong_secret(short_tokens, monkeypatch, "a-wrong-secret-for-the-log-test")
        ClientCredentialsSession(wrong).get(echo.url + "/whoami")

    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert caplog.records, "expected some log records"
    for secret in (client_secrets["reader"], "a-wrong-secret-for-the-log-test", token, session.token["access_token"]):
        assert secret not in logged
    assert "Bearer ey" not in logged and "Basic " not in logged


class _Recorder:
    """A plain HTTP server: ``/api/go`` redirects to ``/elsewhere``; every request's headers are kept."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[tuple[str, str | None]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append((self.path, self.headers.get("Authorization")))
                if self.path.startswith("/api/go"):
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    running = _Recorder()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_the_token_goes_only_under_the_allowed_bases_and_not_across_a_redirect(
    token_service: TokenService, recorder: _Recorder
) -> None:
    from metricdag.auth.session import ForbiddenDestinationError

    plain = token_service.credentials("reader")
    creds = ClientCredentials(plain.token_url, plain.client_id, plain.client_secret_env, plain.scopes,
                              send_token_to=(recorder.url + "/api",))
    session = ClientCredentialsSession(creds)

    with pytest.raises(ForbiddenDestinationError, match="/apix"):
        session.get(recorder.url + "/apix", timeout=5)
    assert recorder.seen == []
    assert session.get(recorder.url + "/api/go", timeout=5).status_code == 200

    (first, first_auth), (second, second_auth) = recorder.seen
    assert (first, second) == ("/api/go", "/elsewhere")
    assert first_auth and first_auth.startswith("Bearer ")
    assert second_auth is None  # same host and port, but not under the allowed base
