"""HTTP client of the central catalog, with an on-disk cache per environment.

Definitions load reads only the cache (:meth:`CatalogClient.cached`, no network); runs and
``refresh`` go to the service and keep the cache current. When the service (or the token
service in front of it) is down, a cached copy is used with a warning, so a run can still
start from the versions it knew.

Every HTTP call is authenticated when the client is given ``auth``
(:class:`~metricdag.auth.session.ClientCredentials`): an OAuth2 client-credentials session
adds a bearer token and refreshes it before it expires. Constructing a client makes no
network call and reads no secret.

Cache layout (one JSON file per lookup, written atomically)::

    <cache_dir>/<environment>/<name>.json            latest version seen
    <cache_dir>/<environment>/<name>@<version>.json  one pinned version (immutable)
    <cache_dir>/<environment>/locks/<run_id>.json    a run's version lock (immutable), ``{"digest", "lock"}``

Dataset files hold ``{"etag": ..., "digest": "sha256:...", "dataset": <ResolvedDataset JSON>}``:
the digest covers the etag and the dataset, so an entry changed on disk (by hand, a bad
restore, a half-copied folder) is never used; the client refetches it without ``If-None-Match``
and writes it again. An entry without a digest is treated the same way.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from pydantic import BaseModel, TypeAdapter, ValidationError

from metricdag.auth.session import ClientCredentials, TokenServiceUnavailableError, shared_session
from metricdag.catalog.run_locks import RUN_ID, RunLock, StoredRunLock
from metricdag.catalog.models import ENV_RE, NAME_RE, VERSION_RE, DatasetDefinition, ResolvedDataset
from metricdag.catalog.snapshots import (
    NodeSnapshotConfig,
    PublishedSnapshotDataset,
    SnapshotDataset,
    SnapshotDatasetSummary,
    SnapshotRef,
    SnapshotsResponse,
    StoredNodeSnapshotConfig,
)
from metricdag.errors import MetricdagError, response_message
from metricdag.io.files import write_atomically

if TYPE_CHECKING:
    from metricdag.settings import Environment

log = logging.getLogger("metricdag.catalog")

RUN_ID_RE = re.compile(RUN_ID)
M = TypeVar("M", bound=BaseModel)


class CatalogError(MetricdagError):
    """The catalog refused a request or answered something unusable."""


class CatalogUnavailableError(CatalogError):
    """The catalog could not be reached and nothing usable was cached."""


class DatasetNotFoundError(CatalogError):
    """The catalog has no such dataset, version, or coordinates for this environment."""


class VersionExistsError(CatalogError):
    """That (dataset, version) is already published; versions are immutable."""


class SnapshotNotFoundError(CatalogError):
    """The catalog has no such snapshot dataset, version, or node snapshot config."""


class LockConflictError(CatalogError):
    """The run is already locked to other versions; locks are immutable."""


_UNAVAILABLE = (requests.ConnectionError, requests.Timeout, TokenServiceUnavailableError)


def _write_atomically(path: Path, text: str) -> None:
    write_atomically(path, text.encode())


def _reason(exc: Exception) -> str:
    """Why a call did not get through, without the URL's query or any credential."""
    if isinstance(exc, TokenServiceUnavailableError):
        return str(exc)
    return type(exc).__name__


def _dropped_keep_alive(exc: Exception) -> bool:
    """A pooled keep-alive connection the server closed just as the request went out (the
    server never read it): the one failure worth sending the same request again at once. Every
    catalog call may be sent twice: reads, and writes that are idempotent by design (a published
    version never changes, a run's lock is recorded once)."""
    if not isinstance(exc, requests.ConnectionError):
        return False
    cause = exc.args[0] if exc.args else None
    reason = cause.args[1] if getattr(cause, "args", None) and len(cause.args) > 1 else cause
    return isinstance(reason, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))


def cache_digest(etag: str | None, dataset: Any) -> str:
    """``sha256:<hex>`` of a cache entry's etag and dataset JSON (canonical: sorted keys, no spaces)."""
    canonical = json.dumps({"etag": etag, "dataset": dataset}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class CatalogClient:
    """Resolve logical datasets for one environment; publish new versions."""

    def __init__(
        self,
        base_url: str,
        cache_dir: Path,
        environment: str,
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
        auth: ClientCredentials | None = None,
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ):
        """``auth``: authenticate every call with these client credentials (one shared session per
        credentials in this process). ``session``: use this session as is (e.g. an already
        authenticating one); give one or the other. Without either, calls are unauthenticated,
        which only the cache-only path (:meth:`cached`) should rely on."""
        if not ENV_RE.match(environment):
            raise CatalogError(f"environment name {environment!r} is not a plain name (letters, digits, _ and -)")
        if session is not None and auth is not None:
            raise ValueError("give CatalogClient a session or auth, not both")
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.environment = environment
        self.timeout_s = timeout_s
        self.session = session or (shared_session(auth) if auth is not None else requests.Session())
        self.log = log if log is not None else logging.getLogger("metricdag.catalog")

    @classmethod
    def for_environment(cls, env: Environment, **kwargs: Any) -> CatalogClient:
        """The environment's catalog, every call authenticated with its OAuth client credentials (the
        token goes only to the environment's catalog and Legend URLs)."""
        auth = ClientCredentials.from_settings(env.auth, env.bearer_token_bases)
        return cls(env.catalog.url, env.path(env.catalog.cache_dir), env.name, auth=auth, **kwargs)

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
            if entry.get("digest") != cache_digest(entry.get("etag"), entry["dataset"]):
                raise ValueError("its content does not match its digest (changed on disk)")
            return ResolvedDataset.model_validate(entry["dataset"]), entry.get("etag")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            self.log.warning("ignoring catalog cache file %s: %s", path, exc)
            return None

    def _write_cache(self, path: Path, dataset: ResolvedDataset, etag: str | None) -> None:
        data = dataset.model_dump(mode="json", by_alias=True)
        entry = {"etag": etag, "digest": cache_digest(etag, data), "dataset": data}
        _write_atomically(path, json.dumps(entry, indent=2, sort_keys=True))

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
            return self._fallback(what, hit, _reason(exc))
        if resp.status_code >= 500:
            return self._fallback(what, hit, f"HTTP {resp.status_code}")
        if resp.status_code == 304 and hit:
            return hit[0]
        if resp.status_code == 404:
            raise DatasetNotFoundError(f"catalog at {self.base_url}: {response_message(resp)}")
        if resp.status_code != 200:
            raise CatalogError(f"catalog at {self.base_url} refused {what}: {response_message(resp)}")
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
        self.log.warning(
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
            try:
                resp = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
            except requests.ConnectionError as exc:
                if not _dropped_keep_alive(exc):
                    raise
                resp = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except _UNAVAILABLE as exc:
            raise CatalogUnavailableError(
                f"cannot {what}: the catalog at {self.base_url} is unreachable ({_reason(exc)})"
            ) from None
        if resp.status_code >= 500:
            raise CatalogUnavailableError(f"cannot {what}: the catalog at {self.base_url} answered {response_message(resp)}")
        return resp

    def publish(self, defn: DatasetDefinition) -> None:
        """Publish one new version; :class:`VersionExistsError` when it is already published."""
        what = f"publish dataset {defn.name!r} version {defn.version!r}"
        resp = self._call("POST", "/datasets", what, json=defn.model_dump(mode="json", by_alias=True))
        if resp.status_code == 409:
            raise VersionExistsError(response_message(resp))
        if resp.status_code != 201:
            raise CatalogError(f"cannot {what}: the catalog at {self.base_url} answered {response_message(resp)}")

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
            raise CatalogError(f"cannot list datasets: the catalog at {self.base_url} answered {response_message(resp)}")
        return resp.json()

    def health(self) -> bool:
        """True when the service answers ``/health`` (public: no token is sent) with status ok."""
        try:
            resp = requests.get(f"{self.base_url}/health", timeout=self.timeout_s)
            return resp.status_code == 200 and resp.json().get("status") == "ok"
        except (requests.RequestException, ValueError, AttributeError):
            return False

    def _parse(self, model: type[M], resp: requests.Response, what: str) -> M:
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise CatalogError(f"catalog at {self.base_url} sent an invalid answer to {what}: {exc}") from None

    def _refused(self, resp: requests.Response, what: str) -> CatalogError:
        return CatalogError(f"cannot {what}: the catalog at {self.base_url} answered {response_message(resp)}")

    # ---- run version locks -------------------------------------------------------------

    def _lock_path(self, run_id: str) -> Path:
        if not RUN_ID_RE.match(run_id):
            raise CatalogError(f"{run_id[:140]!r} is not a run id (letters, digits, _ and -)")
        return self.cache_dir / self.environment / "locks" / f"{run_id}.json"

    def record_lock(self, run_id: str, metric: str, versions: Mapping[str, str]) -> StoredRunLock:
        """Record the dataset versions run ``run_id`` of ``metric`` reads in this environment.

        Idempotent for the same versions; :class:`LockConflictError` when the run is already
        locked to others. The lock is also cached, so :meth:`get_lock` works offline.
        """
        path = self._lock_path(run_id)
        what = f"record the version lock of run {run_id!r}"
        try:
            lock = RunLock(run_id=run_id, metric=metric, environment=self.environment, versions=dict(versions))
        except ValidationError as exc:
            raise CatalogError(f"cannot {what}: {exc}") from None
        resp = self._call("POST", "/locks", what, json=lock.model_dump(mode="json"))
        if resp.status_code == 409:
            raise LockConflictError(response_message(resp))
        if resp.status_code not in (200, 201):
            raise self._refused(resp, what)
        stored = self._parse(StoredRunLock, resp, what)
        self._write_lock_cache(path, stored)
        return stored

    def _write_lock_cache(self, path: Path, stored: StoredRunLock) -> None:
        data = stored.model_dump(mode="json")
        _write_atomically(path, json.dumps({"digest": cache_digest(None, data), "lock": data}, indent=2, sort_keys=True))

    def _read_lock_cache(self, path: Path) -> StoredRunLock | None:
        try:
            entry = json.loads(path.read_text())
            if entry.get("digest") != cache_digest(None, entry["lock"]):
                raise ValueError("its content does not match its digest (changed on disk)")
            return StoredRunLock.model_validate(entry["lock"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            self.log.warning("ignoring cached version lock %s: %s", path, exc)
            return None

    def get_lock(self, run_id: str) -> StoredRunLock | None:
        """The recorded lock of ``run_id``, or None when there is none.

        When the catalog is unreachable, the cached copy is used (with a warning); without one,
        :class:`CatalogUnavailableError` names the run and the catalog URL.
        """
        path = self._lock_path(run_id)
        what = f"read the version lock of run {run_id!r}"
        try:
            resp = self._call("GET", f"/locks/{run_id}", what)
        except CatalogUnavailableError as exc:
            cached = self._read_lock_cache(path)
            if cached is None:
                raise exc from None
            self.log.warning("%s; using the cached version lock of run %s", exc, run_id)
            return cached
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._refused(resp, what)
        stored = self._parse(StoredRunLock, resp, what)
        self._write_lock_cache(path, stored)
        return stored

    # ---- snapshot datasets and node snapshot configs -----------------------------------

    def publish_snapshot(self, snapshot: SnapshotDataset) -> PublishedSnapshotDataset:
        """Publish one version of a snapshot dataset; :class:`VersionExistsError` when it exists."""
        what = f"publish snapshot dataset {snapshot.dataset_id!r} version {snapshot.version!r}"
        resp = self._call("POST", "/snapshot-datasets", what, json=snapshot.model_dump(mode="json", by_alias=True))
        if resp.status_code == 409:
            raise VersionExistsError(response_message(resp))
        if resp.status_code != 201:
            raise self._refused(resp, what)
        return self._parse(PublishedSnapshotDataset, resp, what)

    def snapshot_dataset(self, dataset_id: str, version: str | None = None) -> PublishedSnapshotDataset:
        what = f"read snapshot dataset {dataset_id!r}" + (f" version {version!r}" if version else "")
        params = {"version": version} if version else {}
        resp = self._call("GET", f"/snapshot-datasets/{requests.utils.quote(dataset_id, safe='')}", what, params=params)
        if resp.status_code == 404:
            raise SnapshotNotFoundError(f"catalog at {self.base_url}: {response_message(resp)}")
        if resp.status_code != 200:
            raise self._refused(resp, what)
        return self._parse(PublishedSnapshotDataset, resp, what)

    def list_snapshot_datasets(self) -> list[SnapshotDatasetSummary]:
        resp = self._call("GET", "/snapshot-datasets", "list snapshot datasets")
        if resp.status_code != 200:
            raise self._refused(resp, "list snapshot datasets")
        try:
            return TypeAdapter(list[SnapshotDatasetSummary]).validate_json(resp.content)
        except ValidationError as exc:
            raise CatalogError(f"catalog at {self.base_url} sent an invalid snapshot dataset list: {exc}") from None

    def register_snapshot_config(
        self,
        node_name: str,
        test_environment: str,
        inputs: Sequence[str | SnapshotRef],
        baseline_outputs: Sequence[str | SnapshotRef],
    ) -> StoredNodeSnapshotConfig:
        """Set which snapshot datasets (ids, or refs pinning a version) ``node_name``'s tests use
        in ``test_environment``; replaces an earlier config."""
        what = f"register the snapshot config of node {node_name!r} for {test_environment!r}"

        def refs(items: Sequence[str | SnapshotRef]) -> list[dict]:
            return [(i if isinstance(i, SnapshotRef) else SnapshotRef(dataset_id=i)).model_dump() for i in items]

        try:
            body = NodeSnapshotConfig.model_validate({"inputs": refs(inputs), "baseline_outputs": refs(baseline_outputs)})
        except ValidationError as exc:
            raise CatalogError(f"cannot {what}: {exc}") from None
        path = f"/node-configs/{requests.utils.quote(node_name, safe='')}/{requests.utils.quote(test_environment, safe='')}"
        resp = self._call("PUT", path, what, json=body.model_dump(mode="json"))
        if resp.status_code not in (200, 201):
            raise self._refused(resp, what)
        return self._parse(StoredNodeSnapshotConfig, resp, what)

    def snapshots(self, node_name: str, test_environment: str) -> SnapshotsResponse:
        """``GET /snapshots``: the input and baseline snapshots of one node's tests (spec section 7)."""
        what = f"read the snapshots of node {node_name!r} for {test_environment!r}"
        resp = self._call("GET", "/snapshots", what, params={"node_name": node_name, "test_environment": test_environment})
        if resp.status_code == 404:
            raise SnapshotNotFoundError(f"catalog at {self.base_url}: {response_message(resp)}")
        if resp.status_code != 200:
            raise self._refused(resp, what)
        return self._parse(SnapshotsResponse, resp, what)
