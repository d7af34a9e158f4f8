"""Seed the local stack: catalog entries, then sample data where the catalog says it lives.

The catalog is called with the environment's OAuth client credentials, like every client.
FX rates are not seeded: the Legend stand-in serves them.

Idempotent: catalog versions already present are left alone; each day of POS data is loaded
by the persister, which replaces the day's partition, so seeding twice leaves one copy.

Safe to run twice at once: a seed holds ``<state_dir>/seed.lock`` (a ``filelock`` lock) from
start to end, so a second seeder waits and then seeds again over the finished data, and never
deletes a file the first is still loading.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from filelock import FileLock, Timeout

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.models import ObjectStoreCoordinates, SnowflakeCoordinates
from metricdag.catalog.refresh import refresh_cache
from metricdag.catalog.seed import CATALOG_SEED_DIR, load_seed_files, seed_catalog
from metricdag.errors import MetricdagError
from metricdag.io.objectstore import env_store, join_uri
from metricdag.io.parquet import to_parquet_bytes
from metricdag.persistence.handler import handler
from metricdag.persistence.request import PersistRequest
from metricdag.settings import Environment
from metricdag_localstack import sample_data

SEED_LOCK_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class SeedReport:
    catalog_published: int
    catalog_present: int
    pos_rows: int
    days: list[date]


def catalog_client(env: Environment) -> CatalogClient:
    """An authenticated client of the environment's catalog."""
    return CatalogClient.for_environment(env)


def sample_days(env: Environment, days: int | None = None) -> list[date]:
    sample = env.localstack.sample
    return [sample.end_date - timedelta(days=n) for n in range((days or sample.days) - 1, -1, -1)]


def seed_lock(env: Environment) -> FileLock:
    """The lock one seeder of this environment's local stack holds at a time."""
    state_dir = env.path(env.localstack.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(state_dir / "seed.lock")


def seed(env: Environment, rows_per_day: int | None = None, days: int | None = None) -> SeedReport:
    """Publish catalog entries and load ``days`` of sample data ending at the sample date
    (one seeder at a time: a concurrent one waits for this one to finish)."""
    if env.localstack is None:
        raise MetricdagError(f"environment {env.name!r} is not local: sample data is only seeded into the local stack")
    lock = seed_lock(env)
    try:
        lock.acquire(timeout=SEED_LOCK_TIMEOUT_S)
    except Timeout:
        raise MetricdagError(
            f"another seed of the local stack has held {lock.lock_file} for {SEED_LOCK_TIMEOUT_S:.0f} s; "
            "wait for it to finish (or stop it) and seed again"
        ) from None
    try:
        return _seed_locked(env, rows_per_day, days)
    finally:
        lock.release()


def _seed_locked(env: Environment, rows_per_day: int | None, days: int | None) -> SeedReport:
    client = catalog_client(env)
    published, present = seed_catalog(client, load_seed_files(env.project_root / CATALOG_SEED_DIR))
    store = env_store(env)

    for name, frame in (("stores", sample_data.stores()),):
        coords = client.resolve(name).coordinates
        if not isinstance(coords, ObjectStoreCoordinates):
            raise MetricdagError(f"sample dataset {name!r} must be in the object store, catalog says {coords.kind}")
        uri = join_uri(env.object_store_uri, coords.prefix, f"{name}.{coords.format}")
        body = frame.to_csv(index=False).encode() if coords.format == "csv" else to_parquet_bytes(frame)
        store.put_bytes(uri, body)

    pos = client.resolve("pos_transactions")
    coords = pos.coordinates
    if not isinstance(coords, SnowflakeCoordinates):
        raise MetricdagError("sample dataset 'pos_transactions' must be a Snowflake table in the local catalog")
    rows = rows_per_day or env.localstack.sample.rows_per_day
    total = 0
    for day in (days := sample_days(env, days)):
        frame = sample_data.pos_transactions(rows, day)
        folder = join_uri(env.object_store_uri, "sample", "raw", "pos_transactions", f"{day:%Y/%m/%d}")
        uri = join_uri(folder, f"pos-{uuid.uuid4().hex[:12]}.parquet")  # Snowflake skips file names it has loaded
        store.put_bytes(uri, to_parquet_bytes(frame))
        handler(
            PersistRequest(
                environment=env.name,
                dataset="pos_transactions",
                database=coords.database or env.snowflake.database,
                schema=coords.schema_name,
                table=coords.table,
                source_uri=uri,
                partition_column="business_date",
                partition_value=day,
                key_columns=["transaction_id", "line_no"],
                run_id="seed",
            ).model_dump(mode="json", by_alias=True)
        )
        for old in store.list(folder):
            if old.uri != uri:
                store.delete(old.uri)
        total += len(frame)
    seed_inventory(env, client, days)
    refresh_cache(env, client)
    return SeedReport(published, present, total, days)


def seed_inventory(env: Environment, client: CatalogClient, days: list[date]) -> int:
    """Write each day's inventory snapshot where the catalog says it lives; returns the row count."""
    coords = client.resolve("inventory_snapshots").coordinates
    if not isinstance(coords, ObjectStoreCoordinates) or not coords.partitioned:
        raise MetricdagError("sample dataset 'inventory_snapshots' must be partitioned files in the object store")
    store = env_store(env)
    rows = 0
    for day in days:
        frame = sample_data.inventory_snapshots(day)
        folder = join_uri(env.object_store_uri, coords.prefix, f"{day:%Y/%m/%d}")
        uri = join_uri(folder, f"inventory_snapshots.{coords.format}")
        store.put_bytes(uri, frame.to_csv(index=False).encode() if coords.format == "csv" else to_parquet_bytes(frame))
        for old in store.list(folder):
            if old.uri != uri:
                store.delete(old.uri)
        rows += len(frame)
    return rows
