"""Token verification: what a service accepts and what it refuses, and why (pure, no HTTP)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from metricdag.auth.tokens import InvalidTokenError, StaticKeys, TokenVerifier
from metricdag_token_service.keys import SigningKey
from metricdag_token_service.tokens import issue_token

from tests.oauth_fixtures import AUDIENCE, TEST_ISSUER


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token_yields_its_client_and_scopes(mint, test_verifier: TokenVerifier) -> None:
    principal = test_verifier.verify(mint("catalog:read", "legend:read", subject="metricdag-local"))

    assert principal.subject == "metricdag-local"
    assert principal.scopes == {"catalog:read", "legend:read"}
    assert principal.expires_at.timestamp() > time.time() + 200


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": "x", "scope": "catalog:write", "iss": TEST_ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _alg_none(key: SigningKey) -> str:
    return _b64({"alg": "none", "typ": "JWT", "kid": key.kid}) + "." + _b64(_claims()) + "."


def _hmac_with_a_shared_secret(key: SigningKey) -> str:
    return jwt.encode(_claims(), "a-shared-secret-long-enough-for-hs256!", algorithm="HS256", headers={"kid": key.kid})


def _without_issuer(key: SigningKey) -> str:
    return jwt.encode(_claims(iss=None), key.private_key, algorithm="RS256", headers={"kid": key.kid})


def _forged(key: SigningKey) -> SigningKey:
    """Another private key that claims the real key's id."""
    return SigningKey(SigningKey.generate().private_key, key.kid)


BAD_TOKENS = {
    "expired": (lambda mint, key: mint("catalog:read", now=time.time() - 3600, ttl_s=60), "expired", "expired"),
    "forged signature": (lambda mint, key: mint("catalog:read", key=_forged(key)), "signature", "signature"),
    "unknown key": (lambda mint, key: mint("catalog:read", key=SigningKey.generate()), "unknown_key", "unknown key"),
    "wrong audience": (lambda mint, key: mint("catalog:read", audience="other"), "audience", "not meant for this service"),
    "wrong issuer": (lambda mint, key: mint("catalog:read", issuer="https://evil.example"), "issuer", "not issued by"),
    "not yet valid": (lambda mint, key: mint("catalog:read", now=time.time() + 3600), "not_yet_valid", "not valid yet"),
    "garbage": (lambda mint, key: "not-a-jwt", "malformed", "well-formed"),
    "three garbage parts": (lambda mint, key: "a.b.c", "malformed", "well-formed"),
    "alg none": (lambda mint, key: _alg_none(key), "algorithm", "only RS256"),
    "HS256 confusion": (lambda mint, key: _hmac_with_a_shared_secret(key), "algorithm", "only RS256"),
    "missing issuer": (lambda mint, key: _without_issuer(key), "claims", "'iss'"),
}


@pytest.mark.parametrize(("make", "reason", "says"), BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_tokens_are_refused_with_the_reason(
    mint, test_key: SigningKey, test_verifier: TokenVerifier, make, reason: str, says: str
) -> None:
    token = make(mint, test_key)

    with pytest.raises(InvalidTokenError) as info:
        test_verifier.verify(token)

    assert info.value.reason == reason
    assert says in str(info.value)
    assert token not in str(info.value)


def test_issued_tokens_carry_the_standard_claims(test_key: SigningKey) -> None:
    token = issue_token(
        test_key, issuer="https://iss", audience="aud", subject="c1", scopes=["b:read", "a:read"], ttl_s=30, now=1_000.25
    )

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, test_key.public_key, algorithms=["RS256"], audience="aud", options={"verify_exp": False})
    assert header["kid"] == test_key.kid and header["alg"] == "RS256"
    assert (claims["iss"], claims["sub"], claims["iat"], claims["exp"]) == ("https://iss", "c1", 1_000, 1_031)
    assert claims["scope"] == "a:read b:read"
    assert claims["jti"]


def test_static_keys_verify_by_key_id(test_key: SigningKey, mint) -> None:
    other = SigningKey.generate()
    verifier = TokenVerifier(StaticKeys.of(other, test_key), TEST_ISSUER, AUDIENCE)
    assert verifier.verify(mint("x:read")).scopes == {"x:read"}
    assert verifier.verify(mint("x:read", key=other)).scopes == {"x:read"}
