"""Legend-lambda sourcing: paging, retries with backoff on 429/5xx, fail-fast on other 4xx,
against real servers on loopback (the stand-in, and a scripted lambda) with real tokens."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pandas as pd
import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from metricdag.auth.middleware import BearerAuthMiddleware
from metricdag.auth.session import ClientCredentialsSession
from metricdag.catalog.conform import conform
from metricdag.catalog.models import DatasetSchema, LegendLambdaCoordinates
from metricdag.retries import is_transient, is_transient_status
from metricdag.sourcing.errors import SourceError
from metricdag.sourcing.legend import PageRetries, backoff_delay, lambda_url, read_legend, retry_after_seconds
from metricdag_localstack import sample_data
from metricdag_localstack.legend_service import create_legend_app, legend_scope
from tests.oauth_fixtures import TokenService
from tests.servers import RunningServer, serve, unused_port

FX_SCHEMA = DatasetSchema.model_validate(
    {"key": ["currency"], "columns": [{"name": "currency", "type": "string", "nullable": False},
                                      {"name": "usd_per_unit", "type": "float64", "nullable": False}]}
)
FAST = PageRetries(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05)


class CountingSession(ClientCredentialsSession):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[dict] = []

    def _send(self, method, url, token, data, headers, kwargs):
        self.calls.append(dict(kwargs.get("params") or {}))
        return super()._send(method, url, token, data, headers, kwargs)


@pytest.fixture(scope="module")
def legend(token_service: TokenService) -> Iterator[RunningServer]:
    server = serve(create_legend_app(token_service.verifier()), "legend")
    yield server
    server.stop()


@pytest.fixture
def session(token_service: TokenService) -> CountingSession:
    return CountingSession(token_service.credentials("legend-reader"))


# ---------------------------------------------------------------- against the stand-in


def test_pages_through_every_row_of_the_stand_in(legend: RunningServer, session: CountingSession) -> None:
    frame = read_legend(session, legend.url + "/lambdas/fx_rates", {"date": "2024-06-03"}, 2, "fx_rates")

    pd.testing.assert_frame_equal(frame, sample_data.fx_rates())
    assert [c.get("page_token") is not None for c in session.calls] == [False, True, True]
    assert all(c["page_size"] == 2 and c["date"] == "2024-06-03" for c in session.calls)
    assert conform(frame, FX_SCHEMA, "fx_rates")["usd_per_unit"].dtype == "float64"


def test_one_page_when_it_fits(legend: RunningServer, session: CountingSession) -> None:
    frame = read_legend(session, legend.url + "/lambdas/fx_rates", {"date": "2024-06-03"}, 1000, "fx_rates")
    assert len(frame) == len(sample_data.fx_rates()) and len(session.calls) == 1


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/lambdas/fx_rates", {}, "date"),
        ("/lambdas/fx_rates", {"date": "03/06/2024"}, "date"),
        ("/lambdas/fx_rates", {"date": "2024-06-03", "page_token": "bm90LW91cnM"}, "page_token"),
        ("/lambdas/no_such_lambda", {"date": "2024-06-03"}, "no lambda 'no_such_lambda'"),
    ],
    ids=["no date", "bad date", "foreign page token", "unknown lambda"],
)
def test_client_errors_fail_at_once_with_the_servers_message(
    legend: RunningServer, session: CountingSession, path: str, params: dict, says: str
) -> None:
    with pytest.raises(SourceError) as info:
        read_legend(session, legend.url + path, params, 10, "fx_rates", retry=FAST)

    assert "'fx_rates'" in str(info.value) and legend.url + path in str(info.value) and says in str(info.value)
    assert len(session.calls) == 1
    assert not is_transient(info.value)  # the step fails at once too, not retried by its RetryPolicy


def test_a_token_without_legend_scope_is_refused_with_the_message(legend: RunningServer, token_service: TokenService) -> None:
    session = ClientCredentialsSession(token_service.credentials("reader"))
    with pytest.raises(SourceError, match="403: this call needs scope 'legend:read'"):
        read_legend(session, legend.url + "/lambdas/fx_rates", {"date": "2024-06-03"}, 10, "fx_rates")


# ---------------------------------------------------------------- against a scripted lambda


def page(rows: list[list], token: str | None = None) -> dict:
    result = {"columns": ["currency", "usd_per_unit"], "rows": [{"values": r} for r in rows]}
    return {"result": result, "next_page_token": token}


class Script:
    """Answers queued responses in order (the last one repeats) and records each request."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict, dict]] = []
        self.requests: list[dict] = []

    def app(self, token_service: TokenService) -> FastAPI:
        app = FastAPI()

        @app.get("/lambdas/fx")
        def fx(request: Request) -> JSONResponse:
            self.requests.append({"params": dict(request.query_params), "auth": request.headers.get("authorization", "")})
            status, body, headers = self.answers[min(len(self.requests), len(self.answers)) - 1]
            return JSONResponse(body, status, headers)

        app.add_middleware(BearerAuthMiddleware, verifier=token_service.verifier(), required_scope=legend_scope, realm="legend")
        return app


@pytest.fixture
def script(token_service: TokenService) -> Iterator[tuple[Script, str]]:
    s = Script()
    server = serve(s.app(token_service), "scripted-lambda")
    yield s, server.url + "/lambdas/fx"
    server.stop()


def test_429_is_retried_after_the_delay_the_server_asks(script, session, caplog: pytest.LogCaptureFixture) -> None:
    s, url = script
    s.answers = [(429, {"detail": "slow down"}, {"Retry-After": "1"}), (200, page([["EUR", 1.1]]), {})]
    waits: list[float] = []

    with caplog.at_level(logging.WARNING, logger="metricdag.sourcing.legend"):
        frame = read_legend(
            session, url, {"date": "2024-06-03"}, 10, "fx_rates", retry=PageRetries(max_delay_s=5), sleep=waits.append
        )

    assert frame.to_dict("records") == [{"currency": "EUR", "usd_per_unit": 1.1}]
    assert len(s.requests) == 2 and waits == [1.0]
    assert all(r["auth"].startswith("Bearer ") for r in s.requests)
    message = caplog.records[-1].getMessage()
    assert "429" in message and "slow down" in message and "attempt 2 of 5" in message
    assert session.token["access_token"] not in message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_growing_backoff(script, session, status: int) -> None:
    s, url = script
    s.answers = [(status, {"detail": "boom"}, {}), (status, {"detail": "boom"}, {}), (200, page([["USD", 1.0]]), {})]
    waits: list[float] = []

    policy = PageRetries(base_delay_s=1, max_delay_s=30)
    frame = read_legend(session, url, {"date": "2024-06-03"}, 10, "fx_rates", retry=policy, sleep=waits.append)

    assert len(frame) == 1 and len(s.requests) == 3
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0


def test_retries_really_wait(script, session) -> None:
    s, url = script
    s.answers = [(500, {}, {}), (200, page([["USD", 1.0]]), {})]
    started = time.monotonic()
    read_legend(session, url, {}, 10, "fx_rates", retry=PageRetries(base_delay_s=0.2))
    assert time.monotonic() - started >= 0.1


def test_giving_up_names_the_attempts_and_the_last_answer(script, session) -> None:
    s, url = script
    s.answers = [(503, {"detail": "maintenance until noon"}, {})]

    with pytest.raises(SourceError) as info:
        read_legend(session, url, {}, 10, "fx_rates", retry=FAST, sleep=lambda _: None)

    assert len(s.requests) == 4
    assert "failed 4 time(s)" in str(info.value) and "503" in str(info.value) and "maintenance until noon" in str(info.value)
    assert is_transient(info.value)  # the step's RetryPolicy may try again later


def test_400_fails_at_once_with_the_servers_message(script, session) -> None:
    s, url = script
    s.answers = [(400, {"message": "unknown parameter 'dte'"}, {})]

    with pytest.raises(SourceError, match="answered HTTP 400: unknown parameter 'dte'"):
        read_legend(session, url, {"dte": "2024-06-03"}, 10, "fx_rates", retry=FAST, sleep=lambda _: None)
    assert len(s.requests) == 1


def test_pages_are_followed_and_a_repeated_token_stops(script, session) -> None:
    s, url = script
    s.answers = [(200, page([["USD", 1.0]], "p2"), {}), (200, page([], "p3"), {}), (200, page([["EUR", 1.1]]), {})]
    frame = read_legend(session, url, {}, 1, "fx_rates")
    assert frame["currency"].tolist() == ["USD", "EUR"]
    assert [r["params"].get("page_token") for r in s.requests] == [None, "p2", "p3"]

    s.requests.clear()
    s.answers = [(200, page([["USD", 1.0]], "same"), {})]
    with pytest.raises(SourceError, match="page token 'same' twice"):
        read_legend(session, url, {}, 1, "fx_rates")


@pytest.mark.parametrize(
    ("body", "says"),
    [({"rows": []}, "not a TDS result"), (page([["USD"]]), "1 values for 2 columns")],
    ids=["not TDS", "short row"],
)
def test_unusable_answers_are_named(script, session, body: dict, says: str) -> None:
    s, url = script
    s.answers = [(200, body, {})]
    with pytest.raises(SourceError, match=says):
        read_legend(session, url, {}, 10, "fx_rates")


def test_a_lambda_that_is_down_is_retried_then_named(session) -> None:
    url = f"http://127.0.0.1:{unused_port()}/lambdas/fx"
    with pytest.raises(SourceError, match=f"{url} failed 4 time.*ConnectionError") as info:
        read_legend(session, url, {}, 10, "fx_rates", retry=FAST, sleep=lambda _: None, timeout_s=2)
    assert is_transient(info.value)


# ---------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("status", "requests_made"), [(404, 1), (409, 1), (422, 1), (429, 4), (502, 4), (599, 4)])
def test_statuses_are_retried_as_the_shared_classification_says(script, session, status: int, requests_made: int) -> None:
    s, url = script
    s.answers = [(status, {"detail": "no"}, {})]

    with pytest.raises(SourceError) as info:
        read_legend(session, url, {}, 10, "fx_rates", retry=FAST, sleep=lambda _: None)

    assert len(s.requests) == requests_made
    assert is_transient_status(status) is (requests_made > 1) is is_transient(info.value)


def test_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    policy = PageRetries(base_delay_s=1, max_delay_s=10)
    assert [backoff_delay(n, policy) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]
    assert backoff_delay(1, policy, jitter=0.0) == 0.5
    assert backoff_delay(1, policy, retry_after=7) == 7
    assert backoff_delay(1, policy, retry_after=3600) == 10


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2024, 6, 3, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("5") == 5.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_lambda_urls_join_the_environments_base() -> None:
    relative = LegendLambdaCoordinates(url="/lambdas/fx_rates")
    assert lambda_url("http://127.0.0.1:8768/", relative, "fx_rates") == "http://127.0.0.1:8768/lambdas/fx_rates"
    absolute = LegendLambdaCoordinates(url="https://legend.example/api/fx")
    assert lambda_url(None, absolute, "fx_rates") == "https://legend.example/api/fx"
    with pytest.raises(SourceError, match="'fx_rates'.*legend.base_url"):
        lambda_url(None, relative, "fx_rates")


def test_module_entry_point_requires_a_token(token_service: TokenService) -> None:
    port = unused_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "metricdag_localstack.legend_service", "--jwks-url", token_service.jwks_url,
         "--issuer", token_service.issuer, "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = requests.get(base + "/health", timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "the stand-in did not start"
                time.sleep(0.05)
        assert health.json() == {"status": "ok"}
        assert requests.get(base + "/lambdas/fx_rates", params={"date": "2024-06-03"}, timeout=5).status_code == 401
        session = ClientCredentialsSession(token_service.credentials("legend-reader"))
        assert len(read_legend(session, base + "/lambdas/fx_rates", {"date": "2024-06-03"}, 3, "fx_rates")) == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)
