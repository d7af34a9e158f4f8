"""Bearer-token enforcement for a service, before any routing or body parsing.

Every request needs a valid token unless its path is public (health, API docs): reading
(``GET``/``HEAD``) needs ``<service>:read``, anything else ``<service>:write``. Being a
middleware, it also covers endpoints added later, and a request without a valid token learns
nothing about the body it sent. Answers are 401 (no, malformed, expired, forged or foreign
token) or 403 (valid token without the scope), with an RFC 6750 ``WWW-Authenticate`` header,
never a 5xx; the verified :class:`~metricdag.auth.tokens.Principal` is put in
``request.state.principal``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from metricdag.asgi import SafeJSONResponse
from metricdag.auth.tokens import InvalidTokenError, TokenVerifier

ScopeRule = Callable[[str, str], str | None]
"""(HTTP method, path) -> the scope the request needs, or None for a public path."""

PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
READ_METHODS = frozenset({"GET", "HEAD"})


def read_write_scopes(service: str, public_paths: Collection[str] = PUBLIC_PATHS) -> ScopeRule:
    """``<service>:read`` to read, ``<service>:write`` to change; ``public_paths`` need nothing."""
    public = frozenset(public_paths)

    def rule(method: str, path: str) -> str | None:
        if path in public:
            return None
        return f"{service}:read" if method.upper() in READ_METHODS else f"{service}:write"

    return rule


def _quoted(text: str) -> str:
    """An RFC 9110 quoted-string of printable ASCII (anything else becomes '?')."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return '"' + printable.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of the single ``Authorization: Bearer`` header, else None."""
    values = [v for k, v in headers if k.lower() == b"authorization"]
    if len(values) != 1:
        return None
    scheme, _, token = values[0].decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class BearerAuthMiddleware:
    def __init__(self, app: ASGIApp, verifier: TokenVerifier, required_scope: ScopeRule, realm: str):
        self.app = app
        self.verifier = verifier
        self.required_scope = required_scope
        self.realm = realm

    def _refuse(self, status: int, detail: str, error: str | None, scope_needed: str | None = None) -> SafeJSONResponse:
        params = [f"realm={_quoted(self.realm)}"]
        if error:
            params += [f"error={_quoted(error)}", f"error_description={_quoted(detail)}"]
        if scope_needed:
            params.append(f"scope={_quoted(scope_needed)}")
        return SafeJSONResponse({"detail": detail}, status, headers={"WWW-Authenticate": "Bearer " + ", ".join(params)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = self.required_scope(scope["method"], scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope.get("headers", []))
        if token is None:
            response = self._refuse(
                401,
                f"this call needs a bearer token with scope {needed!r}: send one 'Authorization: Bearer <token>' header",
                None,
            )
            await response(scope, receive, send)
            return
        try:
            principal = await anyio.to_thread.run_sync(self.verifier.verify, token)
        except InvalidTokenError as exc:
            await self._refuse(401, str(exc), "invalid_token")(scope, receive, send)
            return
        if needed not in principal.scopes:
            granted = ", ".join(sorted(principal.scopes)) or "none"
            detail = f"this call needs scope {needed!r}; the token of {principal.subject!r} grants: {granted}"
            await self._refuse(403, detail, "insufficient_scope", needed)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
