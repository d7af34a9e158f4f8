"""Transient failures are retried by the step's RetryPolicy; permanent ones fail at once with their message."""

from __future__ import annotations

import smtplib
import socket

import botocore.exceptions as boto
import dagster as dg
import pytest
import requests
from snowflake.connector import errors as sf

from metricdag.catalog.client import CatalogUnavailableError
from metricdag.errors import MetricdagError
from metricdag.retries import classify_failures, is_transient


def http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.url = "http://127.0.0.1/x"
    return requests.HTTPError(f"{status} error", response=response)


def client_error(code: str, status: int) -> boto.ClientError:
    return boto.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


def wrapped(cause: BaseException) -> MetricdagError:
    try:
        raise cause
    except BaseException as exc:
        try:
            raise MetricdagError("reading failed") from exc
        except MetricdagError as outer:
            return outer


TRANSIENT = [
    requests.ConnectionError("connection reset by peer"),
    requests.Timeout("read timed out"),
    requests.exceptions.ChunkedEncodingError("connection broken"),
    http_error(429),
    http_error(500),
    http_error(503),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError("timed out"),
    socket.timeout("timed out"),
    sf.OperationalError(msg="Failed to connect to DB", errno=250001, sqlstate="08001"),
    sf.InterfaceError(msg="connection is closed", errno=250002),
    sf.OperationalError(msg="HTTP 503: Service Unavailable", errno=290503),
    sf.DatabaseError(msg="HTTP 429: Too many requests", errno=290429),
    client_error("SlowDown", 503),
    client_error("ThrottlingException", 400),
    client_error("InternalError", 500),
    boto.EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
    CatalogUnavailableError("the catalog is unreachable"),
    wrapped(requests.ConnectionError("reset")),
    smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    smtplib.SMTPResponseException(421, b"Service not available, closing transmission channel"),
    smtplib.SMTPRecipientsRefused({"oncall@example.com": (450, b"mailbox busy")}),
]

PERMANENT = [
    http_error(400),
    http_error(401),
    http_error(404),
    sf.ProgrammingError(msg="SQL compilation error: invalid identifier 'X'", errno=904, sqlstate="42000"),
    sf.DatabaseError(msg="Incorrect username or password was specified.", errno=390100, sqlstate="08004"),
    client_error("AccessDenied", 403),
    client_error("NoSuchKey", 404),
    ValueError("no USD rate for currencies ['XXX']"),
    KeyError("net_sales_usd"),
    FileNotFoundError("no file"),
    MetricdagError("dataset 'stores': column 'city' is missing"),
    wrapped(ValueError("bad value")),
    smtplib.SMTPResponseException(535, b"Authentication credentials invalid"),
    smtplib.SMTPRecipientsRefused({"nobody@example.com": (550, b"no such user")}),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: f"{type(e).__name__}:{str(e)[:30]}")
def test_transient(exc):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: f"{type(e).__name__}:{str(e)[:30]}")
def test_permanent(exc):
    assert not is_transient(exc)


def raised(error: MetricdagError, cause: BaseException | None, *, cut: bool = False) -> MetricdagError:
    try:
        try:
            raise cause if cause is not None else ValueError("unrelated")
        except BaseException as exc:
            raise error from (None if cut else exc)
    except MetricdagError as outer:
        return outer


def test_an_error_that_carries_its_classification_is_taken_at_its_word():
    reset = requests.ConnectionError("connection reset")
    # its cause cut (``from None``, as when a message is scrubbed of secrets): only the carried flag tells
    assert is_transient(raised(MetricdagError("Snowflake is down", transient=True), reset, cut=True))
    assert not is_transient(raised(MetricdagError("Snowflake is down"), reset, cut=True))
    # the carried flag decides even against its cause
    assert not is_transient(raised(MetricdagError("bad password", transient=False), reset))
    assert is_transient(raised(MetricdagError("throttled", transient=True), ValueError("x")))
    # an outer error without a flag defers to the first one in its chain that has one
    inner = raised(MetricdagError("down", transient=True), None, cut=True)
    assert is_transient(raised(MetricdagError("reading failed"), inner))


def test_a_carried_transient_error_passes_the_wrapper_and_a_carried_permanent_one_fails_for_good():
    down = MetricdagError("Snowflake is down", transient=True)
    with pytest.raises(MetricdagError) as same:
        with classify_failures("persisting 'x'"):
            raise down from None
    assert same.value is down

    with pytest.raises(dg.Failure) as failure:
        with classify_failures("persisting 'x'"):
            raise MetricdagError("no such table", transient=False) from requests.ConnectionError("reset")
    assert failure.value.allow_retries is False


def test_wrapper_reraises_transient_unchanged_and_turns_permanent_into_a_final_failure():
    boom = ConnectionResetError(104, "Connection reset by peer")
    with pytest.raises(ConnectionResetError) as same:
        with classify_failures("node 'x'"):
            raise boom
    assert same.value is boom

    with pytest.raises(dg.Failure) as failure:
        with classify_failures("node 'x'"):
            raise ValueError("no USD rate for currencies ['XXX']")
    assert failure.value.allow_retries is False
    assert failure.value.description == "node 'x': ValueError: no USD rate for currencies ['XXX']"


# ---------------------------------------------------------------- in a Dagster run

ATTEMPTS: dict[str, int] = {}


def flaky_asset(name: str, error: Exception, failures: int) -> dg.AssetsDefinition:
    """Raises ``error`` on its first ``failures`` attempts, inside the same wrapper the factory uses."""

    @dg.asset(name=name, retry_policy=dg.RetryPolicy(max_retries=3))
    def _asset() -> int:
        ATTEMPTS[name] = ATTEMPTS.get(name, 0) + 1
        with classify_failures(f"node {name!r}"):
            if ATTEMPTS[name] <= failures:
                raise error
        return ATTEMPTS[name]

    return _asset


def step_events(result, kind: str) -> list:
    return [e for e in result.all_events if e.event_type_value == kind]


def test_a_transient_error_is_retried_until_the_step_succeeds():
    ATTEMPTS.pop("flaky", None)
    result = dg.materialize([flaky_asset("flaky", requests.ConnectionError("connection reset"), failures=2)])

    assert result.success
    assert ATTEMPTS["flaky"] == 3
    assert len(step_events(result, "STEP_UP_FOR_RETRY")) == 2
    assert result.output_for_node("flaky") == 3


def test_a_permanent_error_fails_after_one_attempt_with_its_message():
    ATTEMPTS.pop("broken", None)
    result = dg.materialize(
        [flaky_asset("broken", ValueError("column 'net_sales_usd' is missing"), failures=99)], raise_on_error=False
    )

    assert not result.success
    assert ATTEMPTS["broken"] == 1
    assert step_events(result, "STEP_UP_FOR_RETRY") == []
    [failure] = step_events(result, "STEP_FAILURE")
    assert "node 'broken': ValueError: column 'net_sales_usd' is missing" in str(failure.event_specific_data.error.message)


def test_an_smtp_server_that_hangs_up_is_transient() -> None:
    """A real SMTP conversation cut by the server (as a restarting mail relay does)."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def hang_up() -> None:
        conn, _ = server.accept()
        conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        with pytest.raises(smtplib.SMTPServerDisconnected) as caught:
            smtplib.SMTP("127.0.0.1", server.getsockname()[1], timeout=5)
    finally:
        server.close()
    assert is_transient(caught.value)


def test_a_transient_error_that_outlasts_its_retries_heads_the_failure_with_its_cause():
    """The run page shows the cause, not "Exceeded max_retries of 3"."""
    ATTEMPTS.pop("down", None)
    result = dg.materialize(
        [flaky_asset("down", requests.ConnectionError("snowflake.example:443 refused the connection"), failures=99)],
        raise_on_error=False,
    )

    assert not result.success
    assert ATTEMPTS["down"] == 4  # the first attempt and its three retries
    assert len(step_events(result, "STEP_UP_FOR_RETRY")) == 3
    [failure] = step_events(result, "STEP_FAILURE")
    headline = failure.event_specific_data.error.message.splitlines()[0]
    assert "Exceeded max_retries" not in headline
    assert "refused the connection" in headline and "after 4 attempts" in headline
