"""Snapshot datasets and node snapshot configs: the catalog's contract for node tests.

A *snapshot dataset* (``pos_data_v1``) has immutable versions, each a file somewhere
(``file://`` or ``s3://``) with its schema, format, size and SHA-256 checksum. A *node
snapshot config* says, for one node and one test environment, which snapshot datasets are
its inputs and which are its baseline outputs (optionally pinned to a version, else the
latest). ``GET /snapshots?node_name=...&test_environment=...`` answers
:class:`SnapshotsResponse`, the shape of the specification's section 7. Several nodes may
share a snapshot dataset.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import unquote

from pydantic import BaseModel, Field, field_validator, model_validator

from metricdag.catalog.models import CHECKSUM_RE, ENV_NAME, DatasetSchema, canonical_version
from metricdag.schema import NAME_PATTERN, StrictModel

SNAPSHOT_ID = r"^[a-z][a-z0-9_]{0,127}$"
NODE_NAME = NAME_PATTERN
VERSION = r"^v?[0-9]{1,9}(\.[0-9]{1,9}){0,2}$"
S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
STORAGE_SCHEMES = ("file", "s3")
MAX_REFS = 100

SnapshotId = Annotated[str, Field(pattern=SNAPSHOT_ID, description="lower_snake_case, at most 128 characters")]
Version = Annotated[str, Field(pattern=VERSION, max_length=64, description="1.2.3, v1.2 or v2")]


def storage_location_problem(location: str) -> str | None:
    """Why ``location`` is not an acceptable snapshot file location, or None."""
    if any(not (" " < c <= "~") for c in location):
        return "storage_location must be printable ASCII without spaces or control characters"
    scheme, sep, rest = location.partition("://")
    if not sep or scheme not in STORAGE_SCHEMES:
        return f"storage_location must start with file:// or s3:// (got {location[:16]!r})"
    if "\\" in rest:
        return "storage_location must not contain backslashes"
    path = rest
    if scheme == "s3":
        bucket, _, path = rest.partition("/")
        if not S3_BUCKET_RE.match(bucket):
            return f"storage_location: {bucket[:64]!r} is not a valid S3 bucket name"
        if not path:
            return "storage_location must name an object (s3://bucket/key), not a bucket"
    elif not path.startswith("/"):
        return "storage_location must be an absolute file:// path (file:///dir/file.csv)"
    segments = unquote(path).split("/")
    if ".." in segments or "." in segments:
        return "storage_location must not contain '..' or '.' path segments"
    if path.endswith("/"):
        return "storage_location must name a file, not a folder"
    return None


class SnapshotDataset(StrictModel):
    """One version of a snapshot dataset, as published and as returned in ``GET /snapshots``."""

    dataset_id: SnapshotId
    schema_: DatasetSchema = Field(alias="schema")
    storage_location: str = Field(max_length=2048, description="file:///... or s3://bucket/key")
    version: Version
    checksum: str = Field(description="sha256:<64 lowercase hex digits> of the file's bytes")
    format: Literal["csv", "parquet"]
    size_bytes: int = Field(ge=0, le=2**63 - 1)

    @field_validator("storage_location")
    @classmethod
    def _location(cls, v: str) -> str:
        problem = storage_location_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("checksum")
    @classmethod
    def _checksum(cls, v: str) -> str:
        if not CHECKSUM_RE.match(v):
            raise ValueError("checksum must be 'sha256:' followed by 64 lowercase hex digits")
        return v

    @property
    def version_key(self) -> str:
        return canonical_version(self.version)


class PublishedSnapshotDataset(SnapshotDataset):
    published_at: datetime


class SnapshotDatasetSummary(BaseModel):
    dataset_id: str
    latest_version: str
    versions: list[str]


class SnapshotRef(StrictModel):
    """A snapshot dataset a node test uses; without ``version``, the latest at request time."""

    dataset_id: SnapshotId
    version: Version | None = None


class NodeSnapshotConfig(StrictModel):
    """What ``PUT /node-configs/{node_name}/{test_environment}`` takes (the body)."""

    inputs: list[SnapshotRef] = Field(default_factory=list, max_length=MAX_REFS)
    baseline_outputs: list[SnapshotRef] = Field(min_length=1, max_length=MAX_REFS)

    @model_validator(mode="after")
    def _no_repeats(self) -> "NodeSnapshotConfig":
        for role in ("inputs", "baseline_outputs"):
            ids = [r.dataset_id for r in getattr(self, role)]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{role} name {', '.join(dupes)} more than once")
        return self


class StoredNodeSnapshotConfig(NodeSnapshotConfig):
    node_name: str
    test_environment: str
    updated_at: datetime


class SnapshotSet(StrictModel):
    inputs: list[SnapshotDataset]
    baseline_outputs: list[SnapshotDataset]


class SnapshotsResponse(StrictModel):
    """``GET /snapshots``: the specification's section 7 response."""

    node_name: str
    test_environment: str
    snapshots: SnapshotSet


NodeName = Annotated[str, Field(pattern=NODE_NAME, description="the node's name (lower_snake_case)")]
TestEnvironment = Annotated[str, Field(pattern=ENV_NAME, description="e.g. dev_scratch_schema")]
