"""Verifying access tokens: RS256 JWTs (RFC 9068 style) issued by the token service
(:mod:`metricdag_token_service.tokens`), verified here by every service that takes them.

A token carries ``iss``, ``sub`` (the client id), ``aud``, ``iat``, ``nbf``, ``exp``, ``jti`` and
``scope`` (space-separated). Verification accepts RS256 only (no ``none``, no HMAC with the
public key), finds the key by ``kid`` and checks signature, expiry, issuer and audience. Every
failure is an :class:`InvalidTokenError` whose message says what is wrong and never contains
the token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import jwt
import requests

from metricdag.auth.transport import require_secure_transport
from metricdag.errors import ConfigError, MetricdagError

log = logging.getLogger("metricdag.auth")

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class InvalidTokenError(MetricdagError):
    """A bearer token was refused; ``reason`` is a short code, the message is for people."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class Principal:
    """Who called, as proven by a verified token."""

    subject: str
    scopes: frozenset[str]
    expires_at: datetime
    token_id: str | None = None


class KeySource(Protocol):
    def key_for(self, kid: str) -> Any | None:
        """The public key with id ``kid``, or None when there is none."""


class StaticKeys:
    """Public keys known up front (tests, or a key file mounted into the service)."""

    def __init__(self, keys: Mapping[str, Any]):
        self._keys = dict(keys)

    @classmethod
    def of(cls, *signing_keys: Any) -> "StaticKeys":
        """The public keys of signing keys (anything with ``kid`` and ``public_key``)."""
        return cls({k.kid: k.public_key for k in signing_keys})

    def key_for(self, kid: str) -> Any | None:
        return self._keys.get(kid)


class JwksKeys:
    """Public keys from the token service's JWKS URL, fetched at start and again whenever a token
    names a key id not known yet (e.g. after a key rotation).

    A token with an unknown ``kid`` is never refused without a fetch of the key set that began
    after the token arrived. Fetches are rate-limited, not skipped: concurrent lookups share one
    fetch, consecutive fetches are at least ``min_interval_s`` apart (a lookup waits for the next
    one), and a kid still unknown after a fetch is refused without another fetch for
    ``cooldown_s`` (so a flood of one forged kid costs one fetch).
    """

    def __init__(self, url: str, timeout_s: float = 5.0, cooldown_s: float = 30.0, min_interval_s: float = 1.0):
        self.url = require_secure_transport(url)
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self.min_interval_s = min_interval_s
        self.fetches = 0
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")  # monotonic time the last fetch (successful or not) began
        self._missing: dict[str, float] = {}  # kid -> when a fetch that began after it was asked for lacked it
        self._lock = threading.Lock()  # guards the fields above
        self._fetch_lock = threading.Lock()  # one fetch at a time

    def refresh(self) -> None:
        """Fetch the key set now; ``ConfigError`` naming the URL when that fails."""
        started = time.monotonic()
        with self._lock:
            self._fetched_at = started
            self.fetches += 1
        try:
            resp = requests.get(self.url, timeout=self.timeout_s)
            resp.raise_for_status()
            keyset = jwt.PyJWKSet.from_dict(resp.json())
        except (requests.RequestException, ValueError, jwt.PyJWTError) as exc:
            raise ConfigError(f"cannot fetch signing keys from {self.url}: {exc}") from None
        keys = {k.key_id: k.key for k in keyset.keys if k.key_id}
        with self._lock:
            self._keys = keys
            self._missing = {kid: t for kid, t in self._missing.items() if kid not in keys}

    def wait_until_available(self, wait_s: float) -> "JwksKeys":
        """Fetch the key set, retrying for up to ``wait_s`` seconds (the token service may be starting)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.refresh()
                return self
            except ConfigError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def key_for(self, kid: str) -> Any | None:
        asked_at = time.monotonic()
        with self._lock:
            key = self._keys.get(kid)
            missing_since = self._missing.get(kid)
        if key is not None:
            return key
        if missing_since is not None and asked_at - missing_since < self.cooldown_s:
            return None  # this kid had its fetch moments ago and was not in the key set
        with self._fetch_lock:
            with self._lock:
                key = self._keys.get(kid)
                fetched_at = self._fetched_at
            if key is not None:
                return key
            if fetched_at < asked_at:  # no fetch began since this token arrived: do one
                wait = fetched_at + self.min_interval_s - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    self.refresh()
                except ConfigError as exc:
                    log.warning("token names unknown key id %r and the key set could not be refreshed: %s", kid[:64], exc)
                    return None
            with self._lock:
                key = self._keys.get(kid)
                if key is None:
                    self._missing[kid[:256]] = time.monotonic()
                    if len(self._missing) > 10_000:  # forged kids must not grow memory without bound
                        self._missing.pop(next(iter(self._missing)))
            return key


class TokenVerifier:
    """Checks a bearer token for one service (its expected issuer and audience)."""

    def __init__(self, keys: KeySource, issuer: str, audience: str, leeway_s: float = 10.0):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidTokenError("malformed", "the bearer token is not a well-formed JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg != ALGORITHM:
            raise InvalidTokenError("algorithm", f"the bearer token is signed with {alg!r}; only {ALGORITHM} is accepted")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("unknown_key", "the bearer token names no signing key id (kid)")
        key = self.keys.key_for(kid)
        if key is None:
            raise InvalidTokenError("unknown_key", f"the bearer token is signed by an unknown key (kid {kid[:64]!r})")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("expired", "the bearer token has expired: fetch a new one") from None
        except jwt.InvalidSignatureError:
            raise InvalidTokenError("signature", "the bearer token's signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise InvalidTokenError(
                "audience", f"the bearer token is not meant for this service (audience {self.audience!r})"
            ) from None
        except jwt.InvalidIssuerError:
            raise InvalidTokenError("issuer", f"the bearer token was not issued by {self.issuer}") from None
        except jwt.ImmatureSignatureError:
            raise InvalidTokenError("not_yet_valid", "the bearer token is not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidTokenError("claims", f"the bearer token lacks the {exc.claim!r} claim") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise InvalidTokenError("malformed", "the bearer token is not a valid JWT") from None
        scope, subject = claims.get("scope", ""), claims.get("sub")
        if not isinstance(scope, str) or not isinstance(subject, str):
            raise InvalidTokenError("claims", "the bearer token's 'scope' and 'sub' claims must be strings")
        try:
            expires_at = datetime.fromtimestamp(claims["exp"], tz=timezone.utc)
        except (OverflowError, OSError, ValueError, TypeError):
            raise InvalidTokenError("claims", "the bearer token's 'exp' claim is not a usable time") from None
        jti = claims.get("jti")
        return Principal(subject, frozenset(scope.split()), expires_at, jti if isinstance(jti, str) else None)
