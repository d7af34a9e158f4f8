"""Storage of the catalog service: SQLAlchemy 2.x ORM over SQLite (local) or Postgres (prod).

A ``Dataset`` is a logical name; each ``DatasetVersion`` row is one published, immutable
version holding the whole :class:`~metricdag.catalog.models.DatasetDefinition` as JSON
(schema, coordinates per environment, checksum) and the time it was published.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, ForeignKey, String, UniqueConstraint, create_engine, event
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


@event.listens_for(DatasetVersion, "before_update")
def _immutable(mapper: Mapper, connection: Any, target: DatasetVersion) -> None:
    raise RuntimeError(f"dataset versions are immutable (tried to update {target.version!r})")


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


def create_tables(engine: Engine) -> None:
    Base.metadata.create_all(engine)
