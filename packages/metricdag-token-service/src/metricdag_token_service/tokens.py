"""Issuing access tokens: RS256 JWTs (RFC 9068 style) signed with the service's key.

A token carries ``iss``, ``sub`` (the client id), ``aud``, ``iat``, ``nbf``, ``exp``, ``jti`` and
``scope`` (space-separated); services verify it with :class:`metricdag.auth.tokens.TokenVerifier`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable

import jwt

from metricdag.auth.tokens import ALGORITHM
from metricdag_token_service.keys import SigningKey


def issue_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    subject: str,
    scopes: Iterable[str],
    ttl_s: float,
    now: float | None = None,
) -> str:
    """A signed access token for ``subject`` with ``scopes``, valid at least ``ttl_s`` seconds from
    ``now`` (whole seconds: ``exp`` is rounded up, so a client may trust ``expires_in = ttl_s``)."""
    now = now if now is not None else time.time()
    claims = {
        "iss": issuer,
        "sub": subject,
        "client_id": subject,
        "aud": audience,
        "iat": int(now),
        "nbf": int(now),
        "exp": math.ceil(now) + int(ttl_s),
        "jti": uuid.uuid4().hex,
        "scope": " ".join(sorted(set(scopes))),
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "at+jwt"})
