"""The central catalog service.

- datasets: immutable published versions, each with a schema and coordinates per environment
  (:mod:`.datasets`);
- snapshot datasets and node snapshot configs, and ``GET /snapshots`` (:mod:`.snapshots`);
- run version locks (:mod:`.lock_routes`).

Every endpoint but ``/health`` and the API docs (``/docs``, ``/openapi.json``) needs a bearer
token from the token service: ``catalog:read`` to read, ``catalog:write`` to change
(:class:`~metricdag.auth.middleware.BearerAuthMiddleware`). The database schema is migrated
to the newest Alembic revision when the app is created.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from metricdag.asgi import SafeJSONResponse, install_error_handlers
from metricdag.auth.middleware import BearerAuthMiddleware, read_write_scopes
from metricdag.auth.tokens import TokenVerifier
from metricdag_catalog_service import datasets, lock_routes, snapshots
from metricdag_catalog_service.db import make_engine, migrate
from metricdag_catalog_service.placement import Placement

MAX_BODY_BYTES = 1024 * 1024
REALM = "metricdag-catalog"


def create_app(db_url: str, verifier: TokenVerifier, placement: Placement | None = None) -> FastAPI:
    """The service over the database at ``db_url``, accepting tokens ``verifier`` trusts.

    ``placement``: per environment, where its coordinates may point (published coordinates
    outside are a 422); environments not in it are not checked."""
    engine = make_engine(db_url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="metricdag catalog",
        description=(
            "Logical datasets, their immutable versions and where each lives per environment; snapshot "
            "datasets and node test configs; run version locks. Send `Authorization: Bearer <token>` "
            "(scope catalog:read to read, catalog:write to change)."
        ),
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
        default_response_class=SafeJSONResponse,
    )
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.placement = dict(placement or {})
    install_error_handlers(app)
    app.add_middleware(BearerAuthMiddleware, verifier=verifier, required_scope=read_write_scopes("catalog"), realm=REALM)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(datasets.router)
    app.include_router(snapshots.router)
    app.include_router(lock_routes.router)
    return app
