"""HTTP client of the central catalog, with an on-disk cache per environment.

Definitions load reads only the cache (:meth:`CatalogClient.cached`, no network); runs and
``refresh`` go to the service and keep the cache current. When the service is down, a cached
copy is used with a warning, so a run can still start from the versions it knew.

Cache layout (one JSON file per lookup, written atomically)::

    <cache_dir>/<environment>/<name>.json            latest version seen
    <cache_dir>/<environment>/<name>@<version>.json  one pinned version (immutable)

Each file holds ``{"etag": ..., "dataset": <ResolvedDataset JSON>}``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
from pydantic import ValidationError

from metricdag.catalog.models import NAME_RE, VERSION_RE, DatasetDefinition, ResolvedDataset
from metricdag.errors import MetricdagError

log = logging.getLogger("metricdag.catalog")

ENV_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class CatalogError(MetricdagError):
    """The catalog refused a request or answered something unusable."""


class CatalogUnavailableError(CatalogError):
    """The catalog could not be reached and nothing usable was cached."""


class DatasetNotFoundError(CatalogError):
    """The catalog has no such dataset, version, or coordinates for this environment."""


class VersionExistsError(CatalogError):
    """That (dataset, version) is already published; versions are immutable."""


_UNAVAILABLE = (requests.ConnectionError, requests.Timeout)


def _detail(resp: requests.Response) -> str:
    """The service's message (FastAPI's ``{"detail": ...}``), else the start of the body."""
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # 422: pydantic errors
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', '')}" for e in detail if isinstance(e, dict)
        )
    return f"HTTP {resp.status_code}: {resp.text[:300]}"


class CatalogClient:
    """Resolve logical datasets for one environment; publish new versions."""

    def __init__(
        self,
        base_url: str,
        cache_dir: Path,
        environment: str,
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ):
        if not ENV_RE.match(environment):
            raise CatalogError(f"environment name {environment!r} is not a plain name (letters, digits, _ and -)")
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.environment = environment
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    # ---- cache -------------------------------------------------------------------------

    def _cache_path(self, name: str, version: str | None) -> Path:
        if not NAME_RE.match(name):
            raise DatasetNotFoundError(f"{name!r} is not a valid dataset name (lower_snake_case)")
        if version is not None and not VERSION_RE.match(version):
            raise DatasetNotFoundError(f"dataset {name!r}: {version!r} is not a version like 1.2.3")
        stem = name if version is None else f"{name}@{version}"
        return self.cache_dir / self.environment / f"{stem}.json"

    def _read_cache(self, name: str, version: str | None) -> tuple[ResolvedDataset, str | None] | None:
        path = self._cache_path(name, version)
        try:
            entry = json.loads(path.read_text())
            return ResolvedDataset.model_validate(entry["dataset"]), entry.get("etag")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("ignoring unreadable catalog cache file %s: %s", path, exc)
            return None

    def _write_cache(self, path: Path, dataset: ResolvedDataset, etag: str | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"etag": etag, "dataset": dataset.model_dump(mode="json", by_alias=True)}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(entry, fh, indent=2, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def cached(self, name: str, version: str | None = None) -> ResolvedDataset | None:
        """The cached copy, from disk only (never the network); None when not cached."""
        hit = self._read_cache(name, version)
        return hit[0] if hit else None

    # ---- resolve -----------------------------------------------------------------------

    def resolve(self, name: str, version: str | None = None) -> ResolvedDataset:
        """Ask the catalog for ``name`` (latest, or ``version``) in this environment and cache it.

        Falls back to the cached copy, with a warning, when the catalog is unreachable.
        """
        path = self._cache_path(name, version)
        hit = self._read_cache(name, version)
        url = f"{self.base_url}/datasets/{name}"
        params = {"environment": self.environment, **({"version": version} if version else {})}
        headers = {"If-None-Match": hit[1]} if hit and hit[1] else {}
        what = f"dataset {name!r}" + (f" version {version!r}" if version else "")
        try:
            resp = self.session.get(url, params=params, headers=headers, timeout=self.timeout_s)
        except _UNAVAILABLE as exc:
            return self._fallback(what, hit, type(exc).__name__)
        if resp.status_code >= 500:
            return self._fallback(what, hit, f"HTTP {resp.status_code}")
        if resp.status_code == 304 and hit:
            return hit[0]
        if resp.status_code == 404:
            raise DatasetNotFoundError(f"catalog at {self.base_url}: {_detail(resp)}")
        if resp.status_code != 200:
            raise CatalogError(f"catalog at {self.base_url} refused {what}: {_detail(resp)}")
        try:
            dataset = ResolvedDataset.model_validate_json(resp.content)
        except ValidationError as exc:
            raise CatalogError(f"catalog at {self.base_url} sent an invalid answer for {what}: {exc}") from None
        if dataset.name != name or dataset.environment != self.environment:
            raise CatalogError(
                f"catalog at {self.base_url} answered {what} with dataset {dataset.name!r} "
                f"for environment {dataset.environment!r}"
            )
        etag = resp.headers.get("ETag")
        self._write_cache(path, dataset, etag)
        if version is None:
            # Versions are immutable: also keep the pinned copy, so a run locked to this version
            # can be re-read offline.
            self._write_cache(self._cache_path(name, dataset.version), dataset, etag)
        return dataset

    def _fallback(self, what: str, hit: tuple[ResolvedDataset, str | None] | None, reason: str) -> ResolvedDataset:
        if hit is None:
            raise CatalogUnavailableError(
                f"cannot resolve {what}: the catalog at {self.base_url} is unreachable ({reason}) "
                f"and there is no cached copy under {self.cache_dir / self.environment}"
            )
        log.warning(
            "the catalog at %s is unreachable (%s); using the cached copy of %s (version %s)",
            self.base_url,
            reason,
            what,
            hit[0].version,
        )
        return hit[0]

    def refresh(self, names: Iterable[str]) -> dict[str, ResolvedDataset]:
        """Resolve each name (latest version), filling the cache."""
        return {name: self.resolve(name) for name in names}

    # ---- publish and browse ------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except _UNAVAILABLE as exc:
            raise CatalogUnavailableError(
                f"cannot {what}: the catalog at {self.base_url} is unreachable ({type(exc).__name__})"
            ) from None
        if resp.status_code >= 500:
            raise CatalogUnavailableError(f"cannot {what}: the catalog at {self.base_url} answered {_detail(resp)}")
        return resp

    def publish(self, defn: DatasetDefinition) -> None:
        """Publish one new version; :class:`VersionExistsError` when it is already published."""
        what = f"publish dataset {defn.name!r} version {defn.version!r}"
        resp = self._call("POST", "/datasets", what, json=defn.model_dump(mode="json", by_alias=True))
        if resp.status_code == 409:
            raise VersionExistsError(_detail(resp))
        if resp.status_code != 201:
            raise CatalogError(f"cannot {what}: the catalog at {self.base_url} answered {_detail(resp)}")

    def publish_if_absent(self, defn: DatasetDefinition) -> bool:
        """Publish unless that version exists; True when it was published now."""
        try:
            self.publish(defn)
        except VersionExistsError:
            return False
        return True

    def list_datasets(self) -> list[dict]:
        """``[{"name", "latest_version", "versions"}]`` sorted by name."""
        resp = self._call("GET", "/datasets", "list datasets")
        if resp.status_code != 200:
            raise CatalogError(f"cannot list datasets: the catalog at {self.base_url} answered {_detail(resp)}")
        return resp.json()

    def health(self) -> bool:
        """True when the service answers ``/health`` with status ok."""
        try:
            resp = self.session.get(f"{self.base_url}/health", timeout=self.timeout_s)
            return resp.status_code == 200 and resp.json().get("status") == "ok"
        except (requests.RequestException, ValueError, AttributeError):
            return False
