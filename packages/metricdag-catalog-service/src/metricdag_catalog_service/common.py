"""What every router of the catalog service shares: the database session, the caller, docs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from metricdag.auth.tokens import Principal
from metricdag.catalog.models import version_key


class Detail(BaseModel):
    detail: str


# Enforcement is BearerAuthMiddleware's; this scheme documents it in OpenAPI (/docs "Authorize").
bearer_scheme = HTTPBearer(
    auto_error=False,
    description=(
        "An access token from the token service (client credentials): catalog:read to read, catalog:write to change."
    ),
)

PROTECTED: dict[str, Any] = {
    "dependencies": [Security(bearer_scheme)],
    "responses": {
        401: {"model": Detail, "description": "no bearer token, or an invalid, expired or forged one"},
        403: {"model": Detail, "description": "the token lacks the scope this call needs"},
    },
}


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def caller(request: Request) -> str:
    """The verified client id of this request (set by the auth middleware)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal.subject if principal else "?"


def sorted_versions(versions: list[str]) -> list[str]:
    return sorted(versions, key=version_key)


def shown(versions: list[str], limit: int = 10) -> str:
    """The newest ``limit`` versions for a message (``..., 1.9.0, 1.10.0``)."""
    last = versions[-limit:]
    return ", ".join(last) if len(last) == len(versions) else "..., " + ", ".join(last)


def refuse_republish(what: str, version: str, existing_version: str) -> None:
    """409: that version exists (perhaps spelled differently); versions are immutable."""
    same = "" if existing_version == version else f" (as {existing_version!r})"
    raise HTTPException(
        409, f"{what} version {version!r} is already published{same}; versions are immutable, publish a new version instead"
    )


def commit_new_version(session: Session, what: str, version: str, attempt: int) -> bool:
    """Commit a newly published version. False when a concurrent first publish won the race on
    the first attempt (the caller retries once); 409 when it happens again."""
    try:
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        if attempt:
            raise HTTPException(409, f"{what} version {version!r} was published concurrently") from None
        return False
