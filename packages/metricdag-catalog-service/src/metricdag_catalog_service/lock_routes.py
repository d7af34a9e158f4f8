"""Run version locks: ``POST /locks`` records the versions a run reads, once; ``GET /locks/{run_id}``."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from metricdag.asgi import StrictJSONRoute
from metricdag.catalog.run_locks import RunLock, StoredRunLock
from metricdag.catalog.models import canonical_version
from metricdag_catalog_service import db
from metricdag_catalog_service.common import PROTECTED, Detail, SessionDep, caller

log = logging.getLogger("metricdag.catalog_service")

router = APIRouter(tags=["locks"], route_class=StrictJSONRoute, **PROTECTED)


def _stored(row: db.RunLock) -> StoredRunLock:
    return StoredRunLock(
        run_id=row.run_id, metric=row.metric, environment=row.environment, versions=row.versions,
        recorded_at=db.as_utc(row.recorded_at),
    )


def _unpublished(session: Session, lock: RunLock) -> list[str]:
    published = {
        (name, key)
        for name, key in session.execute(
            select(db.Dataset.name, db.DatasetVersion.version_key)
            .join(db.DatasetVersion)
            .where(db.Dataset.name.in_(list(lock.versions)))
        )
    }
    return [
        f"{name} {version}"
        for name, version in sorted(lock.versions.items())
        if (name, canonical_version(version)) not in published
    ]


def _differences(old: RunLock, new: RunLock) -> str:
    parts = [
        f"{field}: {getattr(old, field)!r} vs {getattr(new, field)!r}"
        for field in ("metric", "environment")
        if getattr(old, field) != getattr(new, field)
    ]
    for name in sorted(set(old.versions) | set(new.versions)):
        a, b = old.versions.get(name), new.versions.get(name)
        if a is None or b is None or canonical_version(a) != canonical_version(b):
            parts.append(f"{name}: {a or 'not locked'} vs {b or 'not locked'}")
    return "; ".join(parts[:10])


@router.post(
    "/locks",
    status_code=201,
    response_model=StoredRunLock,
    responses={
        200: {"model": StoredRunLock, "description": "the same lock was already recorded"},
        409: {"model": Detail, "description": "this run is already locked to other versions"},
        422: {"model": Detail, "description": "a dataset version that is not published"},
    },
)
def record_lock(lock: RunLock, session: SessionDep, request: Request, response: Response) -> StoredRunLock:
    """Record the dataset versions of one run. Idempotent for the same versions; immutable."""
    existing = session.scalar(select(db.RunLock).where(db.RunLock.run_id == lock.run_id))
    if existing is None:
        missing = _unpublished(session, lock)
        if missing:
            raise HTTPException(422, f"run {lock.run_id!r}: the catalog has no published version {', '.join(missing)}")
        existing = db.RunLock(
            run_id=lock.run_id, metric=lock.metric, environment=lock.environment, versions=dict(lock.versions)
        )
        session.add(existing)
        try:
            session.commit()
        except IntegrityError:  # recorded concurrently: compare with the winner below
            session.rollback()
            existing = session.scalar(select(db.RunLock).where(db.RunLock.run_id == lock.run_id))
        else:
            log.info("run %s of %s locked by %s: %s", lock.run_id, lock.metric, caller(request), lock.versions)
            return _stored(existing)
    stored = _stored(existing)
    if not stored.same_versions(lock):
        raise HTTPException(
            409,
            f"run {lock.run_id!r} is already locked to other versions ({_differences(stored, lock)}); locks are immutable",
        )
    response.status_code = 200
    return stored


@router.get("/locks/{run_id}", response_model=StoredRunLock, responses={404: {"model": Detail}})
def get_lock(run_id: Annotated[str, Path(max_length=128)], session: SessionDep) -> StoredRunLock:
    row = session.scalar(select(db.RunLock).where(db.RunLock.run_id == run_id))
    if row is None:
        raise HTTPException(404, f"no version lock is recorded for run {run_id!r}")
    return _stored(row)
