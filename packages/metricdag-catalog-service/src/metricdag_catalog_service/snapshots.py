"""Snapshot datasets, node snapshot configs, and ``GET /snapshots`` (the spec's section 7)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from metricdag.asgi import StrictJSONRoute
from metricdag.catalog.models import ENV_NAME, canonical_version, version_key
from metricdag.catalog.snapshots import (
    NODE_NAME,
    NodeSnapshotConfig,
    PublishedSnapshotDataset,
    SnapshotDataset,
    SnapshotDatasetSummary,
    SnapshotRef,
    SnapshotSet,
    SnapshotsResponse,
    StoredNodeSnapshotConfig,
)
from metricdag_catalog_service import db
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

log = logging.getLogger("metricdag.catalog_service")

router = APIRouter(tags=["snapshots"], route_class=StrictJSONRoute, **PROTECTED)

ROLES = {"inputs": "input", "baseline_outputs": "baseline_output"}


def _published(row: db.SnapshotVersion) -> PublishedSnapshotDataset:
    return PublishedSnapshotDataset.model_validate(
        {
            "dataset_id": row.snapshot.dataset_id,
            "schema": row.schema_json,
            "storage_location": row.storage_location,
            "version": row.version,
            "checksum": row.checksum,
            "format": row.format,
            "size_bytes": row.size_bytes,
            "published_at": db.as_utc(row.published_at),
        }
    )


def _entry(row: db.SnapshotVersion) -> SnapshotDataset:
    return SnapshotDataset.model_validate(_published(row).model_dump(by_alias=True, exclude={"published_at"}))


def _snapshot(session: Session, dataset_id: str) -> db.SnapshotDataset | None:
    return session.scalar(select(db.SnapshotDataset).where(db.SnapshotDataset.dataset_id == dataset_id))


def _pick(snapshot: db.SnapshotDataset, version: str | None) -> db.SnapshotVersion | None:
    """The named version of ``snapshot`` (any spelling), or its latest when ``version`` is None."""
    rows = sorted(snapshot.versions, key=lambda r: version_key(r.version))
    if version is None:
        return rows[-1] if rows else None
    key = canonical_version(version)
    return next((r for r in rows if r.version_key == key), None)


@router.post(
    "/snapshot-datasets",
    status_code=201,
    response_model=PublishedSnapshotDataset,
    responses={409: {"model": Detail, "description": "this version is already published"}},
)
def publish_snapshot(body: SnapshotDataset, session: SessionDep, request: Request) -> PublishedSnapshotDataset:
    """Publish one immutable version of a snapshot dataset (a file with its schema and checksum)."""
    for attempt in range(2):
        snapshot = _snapshot(session, body.dataset_id)
        if snapshot is None:
            snapshot = db.SnapshotDataset(dataset_id=body.dataset_id)
            session.add(snapshot)
        else:
            existing = _pick(snapshot, body.version)
            if existing is not None:
                refuse_republish(f"snapshot dataset {body.dataset_id!r}", body.version, existing.version)
        row = db.SnapshotVersion(
            snapshot=snapshot,
            version=body.version,
            version_key=body.version_key,
            schema_json=body.schema_.model_dump(mode="json"),
            storage_location=body.storage_location,
            checksum=body.checksum,
            format=body.format,
            size_bytes=body.size_bytes,
        )
        session.add(row)
        if not commit_new_version(session, f"snapshot dataset {body.dataset_id!r}", body.version, attempt):
            continue
        log.info("snapshot dataset %s version %s published by %s", body.dataset_id, body.version, caller(request))
        return _published(row)
    raise AssertionError("unreachable")


@router.get("/snapshot-datasets", response_model=list[SnapshotDatasetSummary])
def list_snapshots(session: SessionDep) -> list[SnapshotDatasetSummary]:
    out = []
    for snapshot in session.scalars(select(db.SnapshotDataset).order_by(db.SnapshotDataset.dataset_id)):
        versions = sorted_versions([v.version for v in snapshot.versions])
        out.append(SnapshotDatasetSummary(dataset_id=snapshot.dataset_id, latest_version=versions[-1], versions=versions))
    return out


@router.get(
    "/snapshot-datasets/{dataset_id}", response_model=PublishedSnapshotDataset, responses={404: {"model": Detail}}
)
def get_snapshot(
    dataset_id: Annotated[str, Path(max_length=128)],
    session: SessionDep,
    version: Annotated[str | None, Query(max_length=64, description="latest when omitted")] = None,
) -> PublishedSnapshotDataset:
    snapshot = _snapshot(session, dataset_id)
    if snapshot is None:
        raise HTTPException(404, f"the catalog has no snapshot dataset {dataset_id!r}")
    try:
        row = _pick(snapshot, version)
    except ValueError:
        row = None
    if row is None:
        published = sorted_versions([v.version for v in snapshot.versions])
        raise HTTPException(
            404, f"snapshot dataset {dataset_id!r} has no version {version!r} (published: {shown(published)})"
        )
    return _published(row)


def _unresolvable(session: Session, config: NodeSnapshotConfig) -> list[str]:
    problems = []
    for role in ROLES:
        for ref in getattr(config, role):
            snapshot = _snapshot(session, ref.dataset_id)
            if snapshot is None:
                problems.append(f"{role}: unknown snapshot dataset {ref.dataset_id!r}")
            elif ref.version is not None and _pick(snapshot, ref.version) is None:
                published = sorted_versions([v.version for v in snapshot.versions])
                problems.append(
                    f"{role}: snapshot dataset {ref.dataset_id!r} has no version {ref.version!r} "
                    f"(published: {shown(published)})"
                )
    return problems


def _stored(row: db.NodeSnapshotConfig) -> StoredNodeSnapshotConfig:
    refs: dict[str, list[SnapshotRef]] = {role: [] for role in ROLES}
    by_role = {v: k for k, v in ROLES.items()}
    for ref in sorted(row.refs, key=lambda r: (r.role, r.position)):
        refs[by_role[ref.role]].append(SnapshotRef(dataset_id=ref.snapshot.dataset_id, version=ref.version))
    return StoredNodeSnapshotConfig(
        node_name=row.node_name, test_environment=row.test_environment, updated_at=db.as_utc(row.updated_at), **refs
    )


def _config_row(session: Session, node_name: str, test_environment: str) -> db.NodeSnapshotConfig | None:
    return session.scalar(
        select(db.NodeSnapshotConfig).where(
            db.NodeSnapshotConfig.node_name == node_name, db.NodeSnapshotConfig.test_environment == test_environment
        )
    )


NodePath = Annotated[str, Path(pattern=NODE_NAME, description="the node's name")]
EnvPath = Annotated[str, Path(pattern=ENV_NAME, description="the test environment, e.g. dev_scratch_schema")]


@router.put(
    "/node-configs/{node_name}/{test_environment}",
    response_model=StoredNodeSnapshotConfig,
    responses={201: {"model": StoredNodeSnapshotConfig, "description": "created"}, 422: {"model": Detail}},
)
def register_config(
    node_name: NodePath, test_environment: EnvPath, config: NodeSnapshotConfig, session: SessionDep,
    request: Request, response: Response,
) -> StoredNodeSnapshotConfig:
    """Set which snapshot datasets a node's tests use in one test environment (replaces the previous config)."""
    problems = _unresolvable(session, config)
    if problems:
        raise HTTPException(422, f"node {node_name!r}, test environment {test_environment!r}: " + "; ".join(problems))
    row = _config_row(session, node_name, test_environment)
    created = row is None
    if row is None:
        row = db.NodeSnapshotConfig(node_name=node_name, test_environment=test_environment)
        session.add(row)
    else:
        row.refs.clear()
        row.updated_at = db.utcnow()
        session.flush()  # delete the old refs before their primary keys are reused
    for role, stored_role in ROLES.items():
        for position, ref in enumerate(getattr(config, role)):
            row.refs.append(
                db.NodeSnapshotRef(
                    role=stored_role, position=position, snapshot=_snapshot(session, ref.dataset_id), version=ref.version
                )
            )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(409, f"the snapshot config of node {node_name!r} was changed concurrently; try again") from None
    log.info("snapshot config of node %s for %s set by %s", node_name, test_environment, caller(request))
    response.status_code = 201 if created else 200
    return _stored(row)


@router.get(
    "/node-configs/{node_name}/{test_environment}",
    response_model=StoredNodeSnapshotConfig,
    responses={404: {"model": Detail}},
)
def get_config(node_name: NodePath, test_environment: EnvPath, session: SessionDep) -> StoredNodeSnapshotConfig:
    row = _config_row(session, node_name, test_environment)
    if row is None:
        raise HTTPException(404, f"node {node_name!r} has no snapshot config for test environment {test_environment!r}")
    return _stored(row)


@router.get("/snapshots", response_model=SnapshotsResponse, responses={404: {"model": Detail}})
def snapshots(
    session: SessionDep,
    node_name: Annotated[str, Query(max_length=128, description="the node whose test snapshots to return")],
    test_environment: Annotated[str, Query(max_length=128, description="e.g. dev_scratch_schema")],
) -> SnapshotsResponse:
    """Snapshot metadata of one node's tests: inputs and baseline outputs with their schema,
    location, version, checksum, format and size (the specification's section 7)."""
    row = _config_row(session, node_name, test_environment)
    if row is None:
        environments = sorted(
            session.scalars(
                select(db.NodeSnapshotConfig.test_environment).where(db.NodeSnapshotConfig.node_name == node_name)
            )
        )
        if not environments:
            raise HTTPException(404, f"the catalog has no snapshot config for node {node_name!r}")
        raise HTTPException(
            404,
            f"node {node_name!r} has no snapshot config for test environment {test_environment!r} "
            f"(it has: {', '.join(environments)})",
        )
    sets: dict[str, list[SnapshotDataset]] = {role: [] for role in ROLES}
    by_role = {v: k for k, v in ROLES.items()}
    for ref in sorted(row.refs, key=lambda r: (r.role, r.position)):
        version = _pick(ref.snapshot, ref.version)
        if version is None:  # cannot happen: versions are never deleted
            raise HTTPException(409, f"snapshot dataset {ref.snapshot.dataset_id!r} has no version {ref.version!r}")
        sets[by_role[ref.role]].append(_entry(version))
    return SnapshotsResponse(node_name=node_name, test_environment=test_environment, snapshots=SnapshotSet(**sets))
