"""Logical datasets: publish immutable versions, list them, resolve one for an environment."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from metricdag.asgi import StrictJSONRoute
from metricdag.catalog.models import NAME_RE, DatasetDefinition, ResolvedDataset, canonical_version, version_key
from metricdag_catalog_service.common import (
    PROTECTED,
    Detail,
    SessionDep,
    caller,
    commit_new_version,
    refuse_republish,
    shown,
    sorted_versions,
)
from metricdag_catalog_service.db import Dataset, DatasetVersion, as_utc
from metricdag_catalog_service.placement import placement_problems

log = logging.getLogger("metricdag.catalog_service")

router = APIRouter(tags=["datasets"], route_class=StrictJSONRoute, **PROTECTED)


class PublishedDataset(DatasetDefinition):
    """A stored version: the definition as published, plus when."""

    published_at: datetime


class VersionInfo(BaseModel):
    version: str
    published_at: datetime


class DatasetSummary(BaseModel):
    name: str
    latest_version: str
    versions: list[str]


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison against a comma-separated ``If-None-Match`` list."""
    if not if_none_match:
        return False
    tags = (t.strip() for t in if_none_match.split(","))
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def _published(row: DatasetVersion) -> PublishedDataset:
    return PublishedDataset.model_validate({**row.definition, "published_at": as_utc(row.published_at)})


def _version_rows(session: Session, name: str) -> list[DatasetVersion]:
    """Every version of ``name`` (oldest first by version number); 404 when the name is unknown."""
    rows = list(
        session.scalars(select(DatasetVersion).join(Dataset).where(Dataset.name == name)).all()
        if NAME_RE.match(name)
        else []
    )
    if not rows:
        raise HTTPException(404, f"the catalog has no dataset {name[:128]!r}")
    return sorted(rows, key=lambda r: version_key(r.version))


@router.post(
    "/datasets",
    status_code=201,
    response_model=PublishedDataset,
    responses={
        409: {"model": Detail, "description": "this version is already published"},
        422: {"description": "invalid body, or coordinates outside their environment's object store or Legend URL"},
    },
)
def publish(defn: DatasetDefinition, session: SessionDep, request: Request) -> PublishedDataset:
    if problems := placement_problems(defn, request.app.state.placement):
        raise HTTPException(422, f"dataset {defn.name!r} version {defn.version!r}: " + "; ".join(problems))
    key = canonical_version(defn.version)
    for attempt in range(2):  # a concurrent first publish of the same name loses once, then retries
        dataset = session.scalar(select(Dataset).where(Dataset.name == defn.name))
        if dataset is None:
            dataset = Dataset(name=defn.name)
            session.add(dataset)
        else:
            existing = session.scalar(
                select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id, DatasetVersion.version_key == key)
            )
            if existing is not None:
                refuse_republish(f"dataset {defn.name!r}", defn.version, existing.version)
        row = DatasetVersion(
            dataset=dataset, version=defn.version, version_key=key, definition=defn.model_dump(mode="json", by_alias=True)
        )
        session.add(row)
        if not commit_new_version(session, f"dataset {defn.name!r}", defn.version, attempt):
            continue
        log.info("dataset %s version %s published by %s", defn.name, defn.version, caller(request))
        return _published(row)
    raise AssertionError("unreachable")


@router.get("/datasets", response_model=list[DatasetSummary])
def list_datasets(session: SessionDep) -> list[DatasetSummary]:
    by_name: dict[str, list[str]] = {}
    for name, version in session.execute(select(Dataset.name, DatasetVersion.version).join(DatasetVersion)):
        by_name.setdefault(name, []).append(version)
    out = []
    for name in sorted(by_name):
        versions = sorted_versions(by_name[name])
        out.append(DatasetSummary(name=name, latest_version=versions[-1], versions=versions))
    return out


@router.get("/datasets/{name}/versions", response_model=list[VersionInfo], responses={404: {"model": Detail}})
def list_versions(name: str, session: SessionDep) -> list[VersionInfo]:
    return [VersionInfo(version=r.version, published_at=as_utc(r.published_at)) for r in _version_rows(session, name)]


@router.get(
    "/datasets/{name}",
    response_model=ResolvedDataset,
    responses={304: {"description": "matches If-None-Match"}, 404: {"model": Detail}},
)
def resolve(
    name: str,
    request: Request,
    session: SessionDep,
    environment: Annotated[str, Query(max_length=63, description="environment whose coordinates to return")],
    version: Annotated[str | None, Query(max_length=64, description="a published version; latest when omitted")] = None,
) -> Response:
    rows = _version_rows(session, name)
    if version is None:
        row = rows[-1]
    else:
        try:
            key = canonical_version(version)
        except ValueError:
            key = None
        row = next((r for r in rows if r.version_key == key), None)
        if row is None:
            versions = [r.version for r in rows]
            raise HTTPException(404, f"dataset {name!r} has no version {version!r} (published: {shown(versions)})")
    defn = _published(row)
    coords = defn.coordinates.get(environment)
    if coords is None:
        known = ", ".join(sorted(defn.coordinates)) or "none"
        raise HTTPException(
            404,
            f"dataset {name!r} version {defn.version!r} has no coordinates for environment {environment!r} "
            f"(it has: {known})",
        )
    resolved = ResolvedDataset(
        name=defn.name,
        version=defn.version,
        environment=environment,
        description=defn.description,
        owner=defn.owner,
        schema=defn.schema_,
        coordinates=coords,
        checksum=defn.checksum,
        published_at=defn.published_at,
    )
    body = resolved.model_dump_json(by_alias=True).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
