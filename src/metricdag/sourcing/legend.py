"""Read a logical dataset from a Legend lambda (a Legend service execution over HTTP).

:func:`read_legend` calls the lambda with an OAuth2 bearer token (the session adds it), pages
through the result, retries a page after a transient failure (429 and 5xx answers, dropped
connections, timeouts: :mod:`metricdag.retries` decides) with exponential backoff, honouring
``Retry-After``, and fails at once on any other 4xx with the server's message. Its
:class:`SourceError` carries the same classification, so when the page retries give up the
step's ``RetryPolicy`` may run the step again later, and a 4xx fails the step at once.

Paging contract: the request carries ``page_size`` (and, after the first page, the
``page_token`` the previous page returned); each page is a Legend TDS result::

    {"builder": {"_type": "tdsBuilder", "columns": [{"name": "currency", "type": "String"}, ...]},
     "result": {"columns": ["currency", "usd_per_unit"], "rows": [{"values": ["EUR", 1.085]}, ...]},
     "next_page_token": "..." | null}
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import pandas as pd
import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metricdag.catalog.models import LegendLambdaCoordinates
from metricdag.errors import describe_error, response_message
from metricdag.retries import is_transient, is_transient_status
from metricdag.sourcing.errors import SourceError

default_log = logging.getLogger("metricdag.sourcing.legend")

MAX_PAGES = 10_000


# ---------------------------------------------------------------- the wire format


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TdsColumn(_Wire):
    name: str
    type: str = "String"


class TdsBuilder(_Wire):
    type_: Literal["tdsBuilder"] = Field(default="tdsBuilder", alias="_type")
    columns: list[TdsColumn]


class TdsRow(_Wire):
    values: list[Any]


class TdsResult(_Wire):
    columns: list[str]
    rows: list[TdsRow]


class LambdaPage(_Wire):
    """One page of a lambda's tabular result."""

    builder: TdsBuilder | None = None
    result: TdsResult
    next_page_token: str | None = None


# ---------------------------------------------------------------- retries


@dataclass(frozen=True)
class PageRetries:
    """Attempts per page (first try included) and the exponential backoff between them, within
    one step attempt (the step's own ``RetryPolicy`` is separate: it reruns the whole step)."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def backoff_delay(attempt: int, policy: PageRetries, retry_after: float | None = None, jitter: float = 1.0) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): ``base * 2^(attempt-1)`` scaled by
    ``0.5 + jitter/2`` (``jitter`` in [0, 1]), at least what ``Retry-After`` asks, at most
    ``max_delay_s``."""
    exponential = policy.base_delay_s * 2 ** (attempt - 1) * (0.5 + max(0.0, min(jitter, 1.0)) / 2)
    wanted = max(exponential, retry_after or 0.0)
    return min(wanted, policy.max_delay_s)


# ---------------------------------------------------------------- reading


def lambda_url(base_url: str | None, coords: LegendLambdaCoordinates, dataset: str) -> str:
    """The endpoint of ``coords``: its URL when absolute, else joined to the environment's base URL."""
    if coords.url.startswith(("https://", "http://")):
        return coords.url
    if not base_url:
        raise SourceError(
            f"dataset {dataset!r}: the Legend lambda {coords.url} is relative but the environment has no legend.base_url"
        )
    return base_url.rstrip("/") + coords.url


def _get(
    session: requests.Session,
    url: str,
    query: Mapping[str, Any],
    dataset: str,
    retry: PageRetries,
    timeout_s: float,
    log: logging.Logger | logging.LoggerAdapter,
    sleep: Callable[[float], None],
) -> requests.Response:
    """One page, with retries; returns a 200 response or raises :class:`SourceError`."""
    for attempt in range(1, retry.max_attempts + 1):
        retry_after = None
        try:
            resp = session.get(url, params=dict(query), timeout=timeout_s, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            if not is_transient(exc):
                raise SourceError(
                    f"dataset {dataset!r}: cannot call the Legend lambda at {url}: {type(exc).__name__}: {exc}",
                    transient=False,
                ) from None
            reason = f"no answer ({type(exc).__name__})"
        else:
            if resp.status_code == 200:
                return resp
            if not is_transient_status(resp.status_code):
                raise SourceError(
                    f"dataset {dataset!r}: the Legend lambda at {url} answered {response_message(resp)}",
                    transient=False,
                )
            reason = response_message(resp)[:130]
            retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
        if attempt == retry.max_attempts:
            raise SourceError(
                f"dataset {dataset!r}: the Legend lambda at {url} failed {attempt} time(s), last with {reason}; giving up",
                transient=True,
            )
        delay = backoff_delay(attempt, retry, retry_after, random.random())
        log.warning(
            "Legend lambda %s for dataset %r: %s; retrying in %.2f s (attempt %d of %d)",
            url, dataset, reason, delay, attempt + 1, retry.max_attempts,
        )
        sleep(delay)
    raise AssertionError("unreachable")


def read_legend(
    session: requests.Session,
    url: str,
    params: Mapping[str, Any],
    page_size: int,
    dataset: str,
    *,
    retry: PageRetries = PageRetries(),
    timeout_s: float = 60.0,
    log: logging.Logger | logging.LoggerAdapter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Every row the lambda at ``url`` returns for ``params``, as one DataFrame.

    ``session`` authenticates the calls (a :class:`~metricdag.auth.session.ClientCredentialsSession`);
    columns are as the lambda names them, values as JSON gives them (conform to the catalog
    schema afterwards). Raises :class:`SourceError` naming the dataset and URL.
    """
    log = log or default_log
    columns: list[str] | None = None
    rows: list[list[Any]] = []
    token: str | None = None
    seen: set[str] = set()
    for page_no in range(1, MAX_PAGES + 1):
        query = {**params, "page_size": page_size, **({"page_token": token} if token else {})}
        resp = _get(session, url, query, dataset, retry, timeout_s, log, sleep)
        try:
            page = LambdaPage.model_validate_json(resp.content)
        except ValidationError as exc:
            raise SourceError(
                f"dataset {dataset!r}: page {page_no} from the Legend lambda at {url} is not a TDS result "
                f"({describe_error(exc.errors()[0])})"
            ) from None
        if columns is None:
            columns = page.result.columns
        elif page.result.columns != columns:
            raise SourceError(
                f"dataset {dataset!r}: the Legend lambda at {url} changed its columns on page {page_no} "
                f"({page.result.columns} after {columns})"
            )
        for i, row in enumerate(page.result.rows):
            if len(row.values) != len(columns):
                raise SourceError(
                    f"dataset {dataset!r}: row {i + 1} of page {page_no} from {url} has {len(row.values)} values "
                    f"for {len(columns)} columns"
                )
            rows.append(row.values)
        token = page.next_page_token
        if not token:
            log.info("Legend lambda %s for dataset %r: %d row(s) in %d page(s)", url, dataset, len(rows), page_no)
            return pd.DataFrame(rows, columns=columns)
        if token in seen:
            raise SourceError(f"dataset {dataset!r}: the Legend lambda at {url} returned page token {token[:40]!r} twice")
        seen.add(token)
    raise SourceError(f"dataset {dataset!r}: the Legend lambda at {url} did not finish within {MAX_PAGES} pages")
