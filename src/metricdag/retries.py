"""Which failures are worth another attempt, and the wrapper that tells Dagster.

A *transient* failure (dropped connection, timeout, throttling, HTTP 429/5xx, Snowflake network
errors, S3 ``SlowDown``, SMTP 4xx replies and dropped SMTP connections) is re-raised unchanged, so the step's ``RetryPolicy`` (named in
``pipeline-configs/retry-policies.yaml``, per metric or per node) runs it again. Anything else
is *permanent*: it becomes ``dg.Failure(allow_retries=False)`` and fails the step at once with
its message.

An error that carries its own classification (:attr:`metricdag.errors.MetricdagError.transient`,
set where it was raised, e.g. by the warehouse before it scrubs the password from a message and
cuts the cause chain) is taken at its word; otherwise the error and the errors it was raised
from are classified by type. The same classification serves calls that retry within a step
(the Legend pages) and the Lambda ``errorType`` of the persister. This module imports Dagster
only when :func:`classify_failures` runs, so the persister (a Lambda without Dagster) can use it.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from metricdag.catalog.client import CatalogUnavailableError
from metricdag.errors import MetricdagError

# snowflake-connector errnos: failed to connect / request / reach the server, connection timeout,
# "retryable" code; 290000 + HTTP status is how it reports an HTTP error after its own retries.
SNOWFLAKE_NETWORK_ERRNOS = frozenset({250001, 250002, 250003, 250005, 251011, 251012})
SNOWFLAKE_HTTP_ERRNO_BASE = 290000
# SQLSTATE class 08 (connection exception) except 08004 (the server rejected the connection:
# bad credentials do not get better by retrying); 57014: query cancelled (timeout).
SNOWFLAKE_TRANSIENT_SQLSTATES = frozenset({"08001", "08003", "08006", "08S01", "08506", "57014"})
AWS_THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
     "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
     "SlowDown", "BandwidthLimitExceeded", "RequestTimeout", "RequestTimeoutException",
     "InternalError", "ServiceUnavailable", "ServiceUnavailableException"}
)


def is_transient_status(status: int | None) -> bool:
    return status is not None and (status == 429 or 500 <= status <= 599)


def _requests_transient(exc: BaseException) -> bool | None:
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
        return True
    if isinstance(exc, requests.HTTPError):
        response = exc.response
        return is_transient_status(response.status_code if response is not None else None)
    return None


def _snowflake_transient(exc: BaseException) -> bool | None:
    try:
        from snowflake.connector import errors as sf
    except ImportError:  # pragma: no cover - the connector is a dependency
        return None
    if not isinstance(exc, sf.Error):
        return None
    errno = exc.errno or 0
    if errno in SNOWFLAKE_NETWORK_ERRNOS or exc.sqlstate in SNOWFLAKE_TRANSIENT_SQLSTATES:
        return True
    if SNOWFLAKE_HTTP_ERRNO_BASE < errno < SNOWFLAKE_HTTP_ERRNO_BASE + 1000:
        return is_transient_status(errno - SNOWFLAKE_HTTP_ERRNO_BASE)
    if 390000 <= errno < 391000 or exc.sqlstate in ("08004", "28000"):  # authentication / authorization
        return False
    return isinstance(exc, (sf.OperationalError, sf.InterfaceError)) and not isinstance(exc, sf.ProgrammingError)


def _botocore_transient(exc: BaseException) -> bool | None:
    try:
        from botocore import exceptions as boto
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(exc, (boto.EndpointConnectionError, boto.ConnectionClosedError, boto.ConnectTimeoutError,
                        boto.ReadTimeoutError)):
        return True
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(error.get("Code", ""))
        return code in AWS_THROTTLING_CODES or code.startswith("Throttl") or is_transient_status(status)
    return None


def _smtp_transient(exc: BaseException) -> bool | None:
    """A dropped or refused SMTP connection and 4xx replies (try again later) are transient; 5xx are not."""
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    return None


def _own(exc: BaseException) -> bool:
    """Transient by its own type: the checks in order, without looking at causes."""
    for probe in (_requests_transient, _snowflake_transient, _botocore_transient, _smtp_transient):
        verdict = probe(exc)
        if verdict is not None:
            return verdict
    if isinstance(exc, CatalogUnavailableError):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError, socket.timeout))  # ConnectionResetError is a ConnectionError


def is_transient(exc: BaseException) -> bool:
    """True when another attempt may succeed: the error itself, or an error it was raised from, is transient.

    The first error of the chain that carries a classification (``MetricdagError.transient``
    not None) decides, whatever its causes are.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        carried = current.transient if isinstance(current, MetricdagError) else None
        if carried is not None:
            return carried
        if _own(current):
            return True
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextmanager
def classify_failures(what: str) -> Iterator[None]:
    """Around an asset's compute (or an IO manager's ``load_input``): transient errors pass
    through (the RetryPolicy retries them), permanent ones fail the step at once with their message.

    A transient error on the step's last attempt fails it with its own message too, so the run
    page leads with the cause rather than Dagster's "Exceeded max_retries"."""
    import dagster as dg

    try:
        yield
    except (dg.Failure, dg.RetryRequested, dg.DagsterExecutionInterruptedError):
        raise
    except Exception as exc:
        transient = is_transient(exc)
        if transient and not _last_attempt():
            raise
        attempts = f" (transient, still failing after {_attempt_number()} attempts)" if transient else ""
        raise dg.Failure(
            description=f"{what}: {describe(exc)}{attempts}",
            metadata={"error_type": type(exc).__name__, "transient": transient},
            allow_retries=False,
        ) from exc


def _current_op_context():
    import dagster as dg

    try:
        return dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:  # outside a step's compute (e.g. while loading an input)
        return None


def _last_attempt() -> bool:
    """True on the step's last attempt under its op's RetryPolicy; False when that is unknown."""
    context = _current_op_context()
    if context is None:
        return False
    policy = context.op_def.retry_policy
    return policy is not None and context.retry_number >= policy.max_retries


def _attempt_number() -> int:
    context = _current_op_context()
    return context.retry_number + 1 if context is not None else 1
