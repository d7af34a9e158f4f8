"""SQLAlchemy tables of the audit store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RunRecord(Base):
    """One run lifecycle event: started, succeeded, failed or retried (a step retry)."""

    __tablename__ = "audit_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128), index=True)
    partition: Mapped[str | None] = mapped_column(String(32), index=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # started | succeeded | failed | retried
    detail: Mapped[str] = mapped_column(String(4000), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("run_id", "status", "detail", name="uq_run_status_detail"),)


class LoadRecord(Base):
    """One persister call: loaded, or skipped because the ledger already had that file."""

    __tablename__ = "audit_loads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str | None] = mapped_column(String(128), index=True)
    dataset: Mapped[str] = mapped_column(String(128))
    table: Mapped[str] = mapped_column(String(512))
    partition: Mapped[str] = mapped_column(String(32), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(80))
    run_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # loaded | already_loaded | reloaded
    catalog_versions: Mapped[dict] = mapped_column(JSON, default=dict)
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)  # why it was reloaded
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class LedgerEntry(Base):
    """The file content last loaded into a partition (outlives Snowflake's load metadata)."""

    __tablename__ = "load_ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    table: Mapped[str] = mapped_column(String(512))
    partition: Mapped[str] = mapped_column(String(32))
    checksum: Mapped[str] = mapped_column(String(80))
    rows: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)  # of the rows, as loaded
    run_id: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(DateTime)


class Incident(Base):
    """An open (or resolved) failure episode; one page per episode."""

    __tablename__ = "incidents"
    dedup_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128))
    partition: Mapped[str] = mapped_column(String(32))
    node: Mapped[str] = mapped_column(String(256))
    run_id: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class IncidentPartition(Base):
    """One partition of a failure episode. An episode spans consecutive partitions that failed at
    the same node; it resolves once every one of them has succeeded again."""

    __tablename__ = "incident_partitions"
    dedup_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    episode_opened_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    partition: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AlertDelivery(Base):
    """The alert outbox: one alert of an episode (its trigger, or its resolve) to one channel of
    one route. An alert counts as sent only once ``delivered``; a ``pending`` one is retried on
    the next tick; ``failed``: a permanent error (not retried); ``superseded``: a PagerDuty
    trigger never delivered before its episode resolved (so neither it nor a resolve is sent)."""

    __tablename__ = "alert_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(512), index=True)
    episode_opened_at: Mapped[datetime] = mapped_column(DateTime)  # which episode of the key
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128), index=True)
    partition: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # trigger | update-<partitions> | resolve
    channel: Mapped[str] = mapped_column(String(16))  # email | pagerduty
    route: Mapped[str] = mapped_column(String(128))
    message: Mapped[dict] = mapped_column(JSON)  # what to send; never a secret (a variable's name only)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # one sender at a time
    __table_args__ = (
        UniqueConstraint("dedup_key", "episode_opened_at", "action", "channel", "route", name="uq_alert_delivery"),
    )


class PublicationRecord(Base):
    """What one run published into one partition of one table, and what produced it: the
    metric version, node code versions, the catalog version and row count of every input and
    the review results (``metricdag explain`` reads these). ``rows_run_id`` is the run whose rows
    the table holds (the run itself, or for ``already_loaded`` the run that loaded that content)."""

    __tablename__ = "audit_publications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128), index=True)
    dataset: Mapped[str] = mapped_column(String(128))
    table: Mapped[str] = mapped_column(String(512))
    partition_column: Mapped[str] = mapped_column(String(255))
    partition: Mapped[str] = mapped_column(String(32), index=True)
    key_columns: Mapped[list] = mapped_column(JSON, default=list)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    rows_run_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # loaded | already_loaded | reloaded
    metric_version: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    node_versions: Mapped[dict] = mapped_column(JSON, default=dict)
    catalog_versions: Mapped[dict] = mapped_column(JSON, default=dict)
    input_rows: Mapped[dict] = mapped_column(JSON, default=dict)
    review_results: Mapped[list] = mapped_column(JSON, default=list)
    rows: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(80))
    loaded_at: Mapped[datetime] = mapped_column(DateTime)  # _LOADED_AT of the rows


class CheckEvaluation(Base):
    """The metrics repository: one evaluation of one review check on one partition, with what it
    measured (``value``, and for a history check the ``measure`` it is of), the threshold it
    compared with and the outcome (``metricdag review history``)."""

    __tablename__ = "review_evaluations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128), index=True)
    dataset: Mapped[str] = mapped_column(String(128))
    check: Mapped[str] = mapped_column(String(128))  # its name (the type, or <type>_<position>)
    check_type: Mapped[str] = mapped_column(String(32))
    check_hash: Mapped[str] = mapped_column(String(64))  # the check's definition
    partition: Mapped[str] = mapped_column(String(32), index=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    measure: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[str] = mapped_column(String(500))
    passed: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str] = mapped_column(String(8))  # error | warn: as the check ran
    metric_version: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # the outcome's metadata
    description: Mapped[str] = mapped_column(String(2000), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class Acceptance(Base):
    """A partition of a reviewed dataset accepted by a run: every blocking check passed, so its
    review asset ran (the accepted history variance and anomaly checks compare with)."""

    __tablename__ = "review_acceptances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128), index=True)
    dataset: Mapped[str] = mapped_column(String(128))
    partition: Mapped[str] = mapped_column(String(32), index=True)
    run_id: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("environment", "metric", "dataset", "partition", "run_id", name="uq_acceptance"),)


class BacktestRecord(Base):
    """``metricdag review backtest`` of one check at one definition: on how many of the accepted
    partitions it was computed over it would have fired."""

    __tablename__ = "review_backtests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128), index=True)
    dataset: Mapped[str] = mapped_column(String(128))
    check: Mapped[str] = mapped_column(String(128))
    check_hash: Mapped[str] = mapped_column(String(64), index=True)
    first_partition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_partition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    partitions: Mapped[int] = mapped_column(Integer)  # with data
    fired: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
