"""A tiny object-store interface over ``file://`` and ``s3://`` URIs.

Writes are atomic: a local file is written beside its target and renamed into place; an S3
PUT is atomic by nature. So a reader never sees half an object.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

from metricdag.io.files import write_atomically

if TYPE_CHECKING:
    from metricdag.settings import Environment


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    modified: datetime


class ObjectStore(Protocol):
    def put_bytes(self, uri: str, data: bytes) -> None: ...
    def get_bytes(self, uri: str) -> bytes: ...
    def list(self, prefix_uri: str) -> list[ObjectInfo]: ...
    def delete(self, uri: str) -> None: ...


def join_uri(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for part in parts:
        part = str(part).strip("/")
        if part:
            out = f"{out}/{part}"
    return out


def sha256_hex(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def local_path(uri: str) -> Path:
    if not uri.startswith("file://"):
        raise ValueError(f"not a file:// URI: {uri}")
    return Path(uri[len("file://") :])


def is_under_prefix(uri: str, base: str) -> bool:
    """True when object-store ``uri`` is ``base`` or below it: the same scheme, for ``file://``
    the same real folder or one inside it (``..`` and symlinks resolved), for ``s3://`` the same
    bucket and a key under the base key at a ``/`` boundary."""
    if uri.startswith("file://") and base.startswith("file://"):
        path, root = (os.path.realpath(local_path(u)) for u in (uri, base))
        if not os.path.isabs(local_path(uri)):
            return False
        return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
    if uri.startswith("s3://") and base.startswith("s3://"):
        got, want = urlparse(uri), urlparse(base)
        if not got.netloc or got.netloc != want.netloc or any(p in (".", "..") for p in got.path.split("/")):
            return False
        key, root = got.path.strip("/"), want.path.strip("/")
        return not root or key == root or key.startswith(root + "/")
    return False


class LocalObjectStore:
    def put_bytes(self, uri: str, data: bytes) -> None:
        write_atomically(local_path(uri), data)

    def get_bytes(self, uri: str) -> bytes:
        return local_path(uri).read_bytes()

    def list(self, prefix_uri: str) -> list[ObjectInfo]:
        root = local_path(prefix_uri)
        if root.is_file():
            files = [root]
        elif root.is_dir():
            files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")]
        else:
            files = []
        out = []
        for p in sorted(files):
            st = p.stat()
            out.append(ObjectInfo("file://" + str(p), st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)))
        return out

    def delete(self, uri: str) -> None:
        local_path(uri).unlink(missing_ok=True)



class S3ObjectStore:
    def __init__(self, endpoint_url: str | None = None, region: str = "us-east-1"):
        from metricdag import aws

        self._client = aws.client("s3", endpoint_url, region)

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3:// URI: {uri}")
        return parsed.netloc, parsed.path.lstrip("/")

    def put_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = self._split(uri)
        self._client.put_object(Bucket=bucket, Key=key, Body=data)

    def get_bytes(self, uri: str) -> bytes:
        bucket, key = self._split(uri)
        return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def list(self, prefix_uri: str) -> list[ObjectInfo]:
        bucket, prefix = self._split(prefix_uri)
        out = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key != prefix and not key.startswith(prefix.rstrip("/") + "/"):
                    continue
                out.append(ObjectInfo(f"s3://{bucket}/{key}", obj["Size"], obj["LastModified"]))
        return sorted(out, key=lambda o: o.uri)

    def delete(self, uri: str) -> None:
        bucket, key = self._split(uri)
        self._client.delete_object(Bucket=bucket, Key=key)



def store_for(uri: str, s3_endpoint_url: str | None = None, s3_region: str = "us-east-1") -> ObjectStore:
    if uri.startswith("file://"):
        return LocalObjectStore()
    if uri.startswith("s3://"):
        return S3ObjectStore(endpoint_url=s3_endpoint_url, region=s3_region)
    raise ValueError(f"unsupported object-store URI {uri!r}: use file:// or s3://")


def env_store(env: Environment, uri: str | None = None) -> ObjectStore:
    """The store of ``uri`` (default: the environment's object-store base) with the environment's
    S3 endpoint and region: the one way code outside a run gets an object store."""
    return store_for(uri or env.object_store_uri, env.object_store.s3_endpoint_url, env.object_store.s3_region)
