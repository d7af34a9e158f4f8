"""Registered clients of the local token service (``pipeline-configs/auth/clients.yaml``).

Each client names the environment variable that holds its secret (``secret_env``), never the
secret itself; the secret is read when a client authenticates, and compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from metricdag.yamlio import load_model
from metricdag.schema import StrictModel

SCOPE = r"^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$"
CLIENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
ENV_VAR = r"^[A-Z_][A-Z0-9_]{0,127}$"

Scope = Annotated[str, Field(pattern=SCOPE, description="<service>:<permission>, e.g. catalog:read")]


class RegisteredClient(StrictModel):
    client_id: str = Field(pattern=CLIENT_ID)
    description: str = ""
    secret_env: str = Field(pattern=ENV_VAR, description="environment variable holding the client secret")
    scopes: list[Scope] = Field(min_length=1, description="the scopes this client may be granted")


class ClientRegistry(StrictModel):
    clients: list[RegisteredClient]

    @model_validator(mode="after")
    def _unique(self) -> "ClientRegistry":
        ids = [c.client_id for c in self.clients]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"client_id registered more than once: {', '.join(dupes)}")
        return self

    def get(self, client_id: str) -> RegisteredClient | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


class ScopeNotAllowedError(ValueError):
    """A client asked for scopes it is not registered for."""


def load_registry(path: Path) -> ClientRegistry:
    """The registry file as a typed model (errors as ``path:line: message``)."""
    return load_model(ClientRegistry, Path(path))


def authenticate(registry: ClientRegistry, client_id: str, secret: str) -> RegisteredClient | None:
    """The client when ``secret`` is its current secret; None otherwise (unknown id, wrong secret,
    or its secret variable is not set in the token service's environment)."""
    client = registry.get(client_id)
    expected = os.environ.get(client.secret_env, "") if client else ""
    # compare even for unknown clients so that timing does not tell which ids exist
    same = hmac.compare_digest(secret.encode("utf-8", "surrogatepass"), (expected or "\0").encode("utf-8"))
    return client if client is not None and expected and same else None


def grant_scopes(client: RegisteredClient, requested: Iterable[str] | None) -> frozenset[str]:
    """The scopes to put in the token: all the client's scopes when none are requested, else
    exactly the requested ones, which must all be allowed."""
    allowed = frozenset(client.scopes)
    wanted = frozenset(requested) if requested else allowed
    refused = sorted(wanted - allowed)
    if refused:
        raise ScopeNotAllowedError(
            f"client {client.client_id!r} may not request scope(s) {', '.join(refused)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    return wanted


def missing_secrets(registry: ClientRegistry) -> list[str]:
    """``client_id (VARIABLE)`` for each client whose secret variable is unset here."""
    return [f"{c.client_id} ({c.secret_env})" for c in registry.clients if not os.environ.get(c.secret_env)]
