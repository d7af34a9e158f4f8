"""The client side: a requests-oauthlib session for the OAuth2 client credentials grant.

:class:`ClientCredentialsSession` is an ``OAuth2Session`` with a ``BackendApplicationClient``:
it fetches a token on first use, fetches a new one shortly *before* the current one expires
(client credentials have no refresh token), retries a request once with a new token when a
service answers 401 (e.g. after the token service rotated its key), and adds
``Authorization: Bearer`` to every request.

Two rules requests-oauthlib does not give us, and why ``fetch_token``/``request`` are replaced:

- plain ``http://`` is allowed for loopback hosts only (:mod:`metricdag.auth.transport`);
  requests-oauthlib either refuses all http or, with ``OAUTHLIB_INSECURE_TRANSPORT``, allows it
  to every host in the process;
- tokens and secrets are never logged; requests-oauthlib logs both at DEBUG level;
- the bearer token goes only to the services the environment names
  (:attr:`ClientCredentials.send_token_to`: the catalog, the Legend base URL and its allow-list):
  a request to any other URL is refused before anything is sent, and a redirect elsewhere loses
  the ``Authorization`` header.

The client secret is read from the environment variable the settings name, only when a token
is fetched, and is held nowhere else.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import requests
from oauthlib.common import urldecode
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from metricdag.auth.transport import first_base_covering, transport_problem
from metricdag.errors import ConfigError, MetricdagError, response_message

if TYPE_CHECKING:
    from metricdag.settings import AuthSettings

log = logging.getLogger("metricdag.auth")


class TokenRequestError(MetricdagError):
    """No access token could be obtained; the message names the token service and the client."""


class TokenServiceUnavailableError(TokenRequestError):
    """The token service did not answer, or answered with a server error (worth trying later)."""


class InsecureTransportError(MetricdagError):
    """A URL would carry credentials over plain http to a host that is not loopback."""


class ForbiddenDestinationError(MetricdagError):
    """A URL is not under any of the bases the bearer token may be sent to."""


@dataclass(frozen=True)
class ClientCredentials:
    """Who this process is to the token service. Holds the *name* of the secret's variable."""

    token_url: str
    client_id: str
    client_secret_env: str
    scopes: tuple[str, ...] = ()
    send_token_to: tuple[str, ...] = ()
    """Base URLs (origin + path prefix) the bearer token may be sent to; empty: any URL the
    transport rule allows. Environments set it (:meth:`Environment.bearer_token_bases`)."""

    def __post_init__(self) -> None:
        problem = transport_problem(self.token_url)
        if problem:
            raise ConfigError(f"token URL: {problem}")
        for base in self.send_token_to:
            if problem := transport_problem(base):
                raise ConfigError(f"a base URL for the bearer token: {problem}")
        object.__setattr__(self, "scopes", tuple(self.scopes))
        object.__setattr__(self, "send_token_to", tuple(self.send_token_to))

    @classmethod
    def from_settings(cls, auth: AuthSettings, send_token_to: tuple[str, ...] = ()) -> ClientCredentials:
        return cls(auth.token_url, auth.client_id, auth.client_secret_env, tuple(auth.scopes), tuple(send_token_to))

    def may_receive_token(self, url: str) -> bool:
        return not self.send_token_to or first_base_covering(url, self.send_token_to) is not None

    def secret(self) -> str:
        value = os.environ.get(self.client_secret_env)
        if not value:
            raise ConfigError(
                f"environment variable {self.client_secret_env} is not set: it holds the OAuth client secret "
                f"of {self.client_id!r} at {self.token_url} (for the local stack, see .env.example)"
            )
        return value


class ClientCredentialsSession(OAuth2Session):
    """A ``requests.Session`` that authenticates every request with a current access token."""

    def __init__(self, credentials: ClientCredentials, timeout_s: float = 10.0, refresh_margin_s: float = 60.0):
        super().__init__(
            client=BackendApplicationClient(client_id=credentials.client_id),
            scope=list(credentials.scopes) or None,
        )
        self.credentials = credentials
        self.timeout_s = timeout_s
        self.refresh_margin_s = refresh_margin_s
        self.tokens_fetched = 0
        self._token_lock = threading.RLock()

    def __repr__(self) -> str:
        creds = self.credentials
        return f"ClientCredentialsSession(client_id={creds.client_id!r}, token_url={creds.token_url!r})"

    # ---- tokens --------------------------------------------------------------------------

    def _expiring(self) -> bool:
        token = self.token or {}
        if not token.get("access_token"):
            return True
        expires_at = token.get("expires_at")
        if expires_at is None:
            return False  # no lifetime given: use it until a service refuses it
        lifetime = float(token.get("expires_in") or 0)
        margin = min(self.refresh_margin_s, lifetime / 5) if lifetime > 0 else self.refresh_margin_s
        return time.time() >= float(expires_at) - margin

    def fetch_token(self, *args: Any, **kwargs: Any) -> dict:  # type: ignore[override]
        """Get a new access token from the token service (client credentials grant)."""
        creds = self.credentials
        body = self._client.prepare_request_body(scope=self.scope, include_client_id=False)
        auth = HTTPBasicAuth(quote_plus(creds.client_id), quote_plus(creds.secret()))  # RFC 6749 2.3.1
        requested_at = time.time()
        try:
            resp = requests.Session.request(
                self, "POST", creds.token_url, data=dict(urldecode(body)), auth=auth,
                headers={"Accept": "application/json"}, timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            raise TokenServiceUnavailableError(
                f"cannot get an access token for {creds.client_id!r}: the token service at {creds.token_url} "
                f"is unreachable ({type(exc).__name__})"
            ) from None
        if resp.status_code >= 500:
            raise TokenServiceUnavailableError(
                f"cannot get an access token for {creds.client_id!r}: the token service at {creds.token_url} "
                f"answered {response_message(resp)}"
            )
        if resp.status_code != 200:
            raise TokenRequestError(
                f"the token service at {creds.token_url} refused client {creds.client_id!r}: {response_message(resp)}"
            )
        try:
            token = self._client.parse_request_body_response(resp.text, scope=self.scope)
        except (OAuth2Error, ValueError, Warning) as exc:
            detail = getattr(exc, "description", None) or str(exc)
            raise TokenRequestError(f"the token service at {creds.token_url} sent an unusable answer: {detail}") from None
        if token.get("expires_in") is not None:
            # counted from when we asked, not from when the answer came: errs on the early side
            token["expires_at"] = requested_at + float(token["expires_in"])
        self.token = token
        self.tokens_fetched += 1
        log.debug(
            "got an access token for %s from %s (expires in %s s)", creds.client_id, creds.token_url, token.get("expires_in")
        )
        return token

    def access_token(self) -> str:
        """A token valid for at least the refresh margin (fetched when needed)."""
        with self._token_lock:
            if self._expiring():
                self.fetch_token()
            return self.token["access_token"]

    def _discard(self, access_token: str) -> None:
        with self._token_lock:
            if (self.token or {}).get("access_token") == access_token:
                self.token = {}

    # ---- requests ------------------------------------------------------------------------

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        data: Any = None,
        headers: dict | None = None,
        withhold_token: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        problem = transport_problem(url)
        if problem:
            raise InsecureTransportError(f"refusing to send credentials: {problem}")
        if withhold_token:
            return requests.Session.request(self, method, url, data=data, headers=headers, **kwargs)
        if not self.credentials.may_receive_token(url):
            raise ForbiddenDestinationError(
                f"refusing to send the bearer token of {self.credentials.client_id!r} to {url.split('?')[0][:300]}: "
                f"it is not under any of the environment's service URLs ({', '.join(self.credentials.send_token_to)})"
            )
        token = self.access_token()
        resp = self._send(method, url, token, data, headers, kwargs)
        if resp.status_code == 401:  # revoked, or signed by a key the service no longer trusts
            self._discard(token)
            resp = self._send(method, url, self.access_token(), data, headers, kwargs)
        return resp

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On a redirect, drop the token unless the new URL may receive it (requests itself only
        drops it when the host changes)."""
        super().rebuild_auth(prepared_request, response)
        headers = prepared_request.headers
        if "Authorization" in headers and (
            transport_problem(prepared_request.url or "") or not self.credentials.may_receive_token(prepared_request.url or "")
        ):
            del headers["Authorization"]

    def _send(self, method: str, url: str, token: str, data: Any, headers: dict | None, kwargs: dict) -> requests.Response:
        merged = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return requests.Session.request(self, method, url, data=data, headers=merged, **kwargs)


_shared: dict[ClientCredentials, ClientCredentialsSession] = {}
_shared_lock = threading.Lock()


def shared_session(credentials: ClientCredentials) -> ClientCredentialsSession:
    """One session (so one token, refreshed as needed) per credentials in this process."""
    with _shared_lock:
        session = _shared.get(credentials)
        if session is None:
            session = _shared[credentials] = ClientCredentialsSession(credentials)
        return session


def clear_shared_sessions() -> None:
    """Forget every shared session and its token (the next call fetches a new token)."""
    with _shared_lock:
        for session in _shared.values():
            session.close()
        _shared.clear()
