"""The local stand-in for the central OAuth2 token service (client credentials grant, RFC 6749 4.4).

``POST /oauth/token`` takes ``grant_type=client_credentials`` (and optionally ``scope``) as a
form body, with the client id and secret in HTTP Basic auth (RFC 6749 2.3.1) or in the body,
and answers a signed, expiring JWT (:mod:`metricdag.auth.tokens`). ``GET /.well-known/jwks.json``
serves the public key services verify tokens with. Errors follow RFC 6749 5.2
(``{"error", "error_description"}``). Neither secrets nor tokens are ever logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import parse_qsl, unquote_plus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from metricdag_token_service.clients import ClientRegistry, ScopeNotAllowedError, authenticate, grant_scopes, missing_secrets
from metricdag_token_service.keys import SigningKey
from metricdag_token_service.tokens import issue_token

log = logging.getLogger("metricdag.token_service")

MAX_FORM_BYTES = 8 * 1024
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str, basic_challenge: bool = False):
        self.status, self.error, self.description, self.basic_challenge = status, error, description, basic_challenge
        super().__init__(description)

    def response(self) -> JSONResponse:
        headers = dict(NO_STORE)
        if self.basic_challenge:
            headers["WWW-Authenticate"] = 'Basic realm="metricdag-token-service"'
        return JSONResponse({"error": self.error, "error_description": self.description}, self.status, headers)


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """The form parameters; each may appear once (RFC 6749 3.2)."""
    if not body:
        return {}
    if (content_type or "").split(";")[0].strip().lower() != FORM:
        raise OAuthError(400, "invalid_request", f"send the token request as {FORM}")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(400, "invalid_request", "the form body is not valid UTF-8 url-encoded data") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise OAuthError(400, "invalid_request", f"parameter {name!r} is given more than once")
        params[name] = value
    return params


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(client_id, secret) from an ``Authorization: Basic`` header, url-decoded per RFC 6749 2.3.1."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError(400, "invalid_request", "client authentication must use the Basic scheme")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise OAuthError(401, "invalid_client", "the Basic credentials are not valid base64", True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(401, "invalid_client", "the Basic credentials must be client_id:client_secret", True)
    return unquote_plus(client_id), unquote_plus(secret)


def create_token_app(
    registry: ClientRegistry, key: SigningKey, issuer: str, audience: str, ttl_s: int
) -> FastAPI:
    app = FastAPI(
        title="metricdag token service (local stand-in)",
        description="OAuth2 client credentials: signed, expiring RS256 JWTs with scopes.",
        max_body_size=MAX_FORM_BYTES,
    )
    for entry in missing_secrets(registry):
        log.warning("client %s cannot get tokens: its secret variable is not set for the token service", entry)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/.well-known/jwks.json")
    def jwks() -> dict:
        return key.jwks()

    @app.post(
        "/oauth/token",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    FORM: {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "scope": {"type": "string", "description": "space-separated scopes"},
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def token(request: Request) -> JSONResponse:
        try:
            params = parse_form(await request.body(), request.headers.get("content-type"))
            return _grant(params, basic_credentials(request.headers.get("authorization")))
        except OAuthError as exc:
            log.info("token request refused: %s (%s)", exc.error, exc.description)
            return exc.response()

    def _grant(params: dict[str, str], basic: tuple[str, str] | None) -> JSONResponse:
        grant_type = params.get("grant_type")
        if grant_type != "client_credentials":
            if not grant_type:
                raise OAuthError(400, "invalid_request", "grant_type is missing")
            raise OAuthError(
                400, "unsupported_grant_type", f"grant_type {grant_type[:64]!r} is not supported; use client_credentials"
            )
        in_body = "client_secret" in params
        if basic and in_body:
            raise OAuthError(400, "invalid_request", "send client credentials either as Basic auth or in the body, not both")
        if basic:
            client_id, secret = basic
        elif in_body and params.get("client_id"):
            client_id, secret = params["client_id"], params["client_secret"]
        else:
            raise OAuthError(401, "invalid_client", "client authentication is required (HTTP Basic)", True)
        client = authenticate(registry, client_id, secret)
        if client is None:
            raise OAuthError(401, "invalid_client", "unknown client or wrong secret", basic is not None)
        requested = params.get("scope", "").split() or None
        try:
            scopes = grant_scopes(client, requested)
        except ScopeNotAllowedError as exc:
            raise OAuthError(400, "invalid_scope", str(exc)) from None
        access_token = issue_token(
            key, issuer=issuer, audience=audience, subject=client.client_id, scopes=scopes, ttl_s=ttl_s
        )
        log.info("issued a token to %s (scopes: %s, %d s)", client.client_id, " ".join(sorted(scopes)), ttl_s)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl_s, "scope": " ".join(sorted(scopes))}
        return JSONResponse(body, headers=NO_STORE)

    return app
