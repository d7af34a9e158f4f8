"""Storage of the catalog service: SQLAlchemy 2.x ORM over SQLite (local) or Postgres (prod).

A ``Dataset`` is a logical name; each ``DatasetVersion`` row is one published, immutable
version holding the whole :class:`~metricdag.catalog.models.DatasetDefinition` as JSON
(schema, coordinates per environment, checksum) and the time it was published.
A ``SnapshotDataset`` has immutable ``SnapshotVersion`` rows (one file each); a
``NodeSnapshotConfig`` lists, per node and test environment, the snapshot datasets it uses
(``NodeSnapshotRef`` rows, in order); a ``RunLock`` records the versions one run reads.

The schema is owned by the Alembic migrations in ``migrations/`` (:func:`migrate`), which a
test keeps in step with these classes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class Dataset(Base):
    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[DatasetVersion]] = relationship(back_populates="dataset")


class DatasetVersion(Base):
    """One published version; rows are never updated (enforced below)."""

    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("dataset_id", "version_key", name="uq_dataset_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id"), index=True)
    version: Mapped[str] = mapped_column(String(64), doc="as the publisher spelled it")
    version_key: Mapped[str] = mapped_column(String(64), doc="canonical form (1.10.0); unique per dataset")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, doc="DatasetDefinition, JSON by alias")
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")


class SnapshotDataset(Base):
    __tablename__ = "snapshot_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list[SnapshotVersion]] = relationship(back_populates="snapshot")


class SnapshotVersion(Base):
    """One published snapshot file; rows are never updated."""

    __tablename__ = "snapshot_version"
    __table_args__ = (UniqueConstraint("snapshot_id", "version_key", name="uq_snapshot_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot_dataset.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    version_key: Mapped[str] = mapped_column(String(64))
    schema_json: Mapped[dict[str, Any]] = mapped_column("schema", JSON)
    storage_location: Mapped[str] = mapped_column(String(2048))
    checksum: Mapped[str] = mapped_column(String(71))
    format: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    snapshot: Mapped[SnapshotDataset] = relationship(back_populates="versions")


class NodeSnapshotConfig(Base):
    """Which snapshot datasets one node's tests use in one test environment (replaceable)."""

    __tablename__ = "node_snapshot_config"
    __table_args__ = (UniqueConstraint("node_name", "test_environment", name="uq_node_snapshot_config"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    node_name: Mapped[str] = mapped_column(String(63), index=True)
    test_environment: Mapped[str] = mapped_column(String(63))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    refs: Mapped[list[NodeSnapshotRef]] = relationship(
        back_populates="config", cascade="all, delete-orphan", order_by="(NodeSnapshotRef.role, NodeSnapshotRef.position)"
    )


class NodeSnapshotRef(Base):
    __tablename__ = "node_snapshot_ref"

    config_id: Mapped[int] = mapped_column(ForeignKey("node_snapshot_config.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True, doc="input | baseline_output")
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot_dataset.id"), index=True)
    version: Mapped[str | None] = mapped_column(String(64), doc="pinned version; latest when null")

    config: Mapped[NodeSnapshotConfig] = relationship(back_populates="refs")
    snapshot: Mapped[SnapshotDataset] = relationship()


class RunLock(Base):
    """The dataset versions one run reads; never updated."""

    __tablename__ = "run_lock"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    metric: Mapped[str] = mapped_column(String(63))
    environment: Mapped[str] = mapped_column(String(63))
    versions: Mapped[dict[str, str]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@event.listens_for(DatasetVersion, "before_update")
@event.listens_for(SnapshotVersion, "before_update")
@event.listens_for(RunLock, "before_update")
def _immutable(mapper: Mapper, connection: Any, target: Base) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are immutable (tried to update id {target.id})")


def make_engine(db_url: str) -> Engine:
    """An engine for ``db_url``; for a SQLite file its parent folder is created."""
    url = make_url(db_url)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        # FastAPI runs sync endpoints in a thread pool.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if url.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
        else:
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return create_engine(url, **kwargs)


MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE_REVISION = "0001"  # what create_all made before migrations existed


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (``alembic upgrade head``).

    A database made before migrations existed (tables, no ``alembic_version``) is first
    stamped with the baseline revision, so its data is kept and only newer steps run.
    """
    from alembic import command
    from sqlalchemy import inspect

    with engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        config = alembic_config(connection)
        if "dataset" in tables and "alembic_version" not in tables:
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, "head")
