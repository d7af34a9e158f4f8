"""``AuditStore(url)``: write and read audit records, the load ledger and incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from metricdag.audit.models import Base, Incident, LedgerEntry, LoadRecord, RunRecord
from metricdag.settings import Environment

RUN_STATUSES = ("started", "succeeded", "failed", "retried")
LEDGER_STATUSES = ("loaded", "reloaded")  # load statuses that change what the partition holds
# columns added to the load tables after their first release: (table, column, SQL type)
LEDGER_COLUMNS = (("load_ledger", "fingerprint", "VARCHAR(64)"), ("audit_loads", "detail", "VARCHAR(500)"))


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class AuditRow:
    """One line of ``metricdag audit``."""

    recorded_at: datetime
    kind: str  # run | load
    metric: str
    partition: str
    status: str
    run_id: str
    detail: str


class AuditStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            path = url[len("sqlite:///") :]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
        Base.metadata.create_all(self.engine)
        add_ledger_columns(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._session()

    # --------------------------------------------------------------------- runs

    def record_run(
        self, *, environment: str, metric: str, partition: str | None, run_id: str, status: str, detail: str = ""
    ) -> bool:
        """Idempotent per (run, status, detail): a sensor re-evaluating the same run adds nothing."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; one of {', '.join(RUN_STATUSES)}")
        record = RunRecord(
            environment=environment, metric=metric, partition=partition, run_id=run_id,
            status=status, detail=detail[:4000], recorded_at=_now(),
        )
        with self.session() as s:
            s.add(record)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
        return True

    # -------------------------------------------------------------------- loads

    def record_load(
        self, *, environment: str, metric: str | None, dataset: str, table: str, partition: str, rows: int,
        checksum: str, run_id: str, status: str = "loaded", catalog_versions: dict[str, str] | None = None,
        fingerprint: str | None = None, detail: str | None = None,
    ) -> None:
        """An audit record of a load; a ``loaded`` or ``reloaded`` one also becomes the partition's
        ledger entry, with the ``fingerprint`` of the rows as they were after the load."""
        now = _now()
        with self.session() as s, s.begin():
            s.add(LoadRecord(
                environment=environment, metric=metric, dataset=dataset, table=table, partition=partition,
                rows=rows, checksum=checksum, run_id=run_id, status=status,
                catalog_versions=dict(catalog_versions or {}), recorded_at=now, detail=detail[:500] if detail else None,
            ))
            if status in LEDGER_STATUSES:
                s.add(LedgerEntry(
                    environment=environment, table=table, partition=partition, checksum=checksum,
                    rows=rows, fingerprint=fingerprint, run_id=run_id, loaded_at=now,
                ))

    def last_load(self, environment: str, table: str, partition: str) -> LedgerEntry | None:
        """The ledger entry of the file content the partition holds now (None: never loaded)."""
        with self.session() as s:
            return s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.environment == environment, LedgerEntry.table == table,
                       LedgerEntry.partition == partition)
                .order_by(LedgerEntry.id.desc())
                .limit(1)
            ).first()

    # ---------------------------------------------------------------- incidents

    def open_incident(self, *, dedup_key: str, environment: str, metric: str, partition: str, node: str, run_id: str) -> bool:
        """True when this opens a new episode; False when the key is already open (do not page again)."""
        with self.session() as s, s.begin():
            existing = s.get(Incident, dedup_key)
            if existing is not None and existing.resolved_at is None:
                return False
            if existing is None:
                s.add(Incident(dedup_key=dedup_key, environment=environment, metric=metric, partition=partition,
                               node=node, run_id=run_id, opened_at=_now()))
            else:
                existing.run_id, existing.opened_at, existing.resolved_at = run_id, _now(), None
        return True

    def open_incidents(self, environment: str, metric: str, partition: str) -> list[Incident]:
        with self.session() as s:
            return list(s.scalars(select(Incident).where(
                Incident.environment == environment, Incident.metric == metric,
                Incident.partition == partition, Incident.resolved_at.is_(None),
            ).order_by(Incident.dedup_key)))

    def resolve_incident(self, dedup_key: str) -> None:
        with self.session() as s, s.begin():
            incident = s.get(Incident, dedup_key)
            if incident is not None and incident.resolved_at is None:
                incident.resolved_at = _now()

    # -------------------------------------------------------------------- query

    def query(self, metric: str | None = None, date: str | None = None) -> list[AuditRow]:
        """Run and load records, oldest first, optionally of one metric and/or partition date."""
        runs = select(RunRecord)
        loads = select(LoadRecord)
        if metric:
            runs, loads = runs.where(RunRecord.metric == metric), loads.where(LoadRecord.metric == metric)
        if date:
            runs, loads = runs.where(RunRecord.partition == date), loads.where(LoadRecord.partition == date)
        with self.session() as s:
            rows = [
                AuditRow(r.recorded_at, "run", r.metric, r.partition or "", r.status, r.run_id, r.detail)
                for r in s.scalars(runs)
            ] + [
                AuditRow(
                    l.recorded_at, "load", l.metric or "", l.partition, l.status, l.run_id,
                    f"{l.table} rows={l.rows} {l.checksum} versions="
                    + ",".join(f"{k}@{v}" for k, v in sorted(l.catalog_versions.items()))
                    + (f" ({l.detail})" if l.detail else ""),
                )
                for l in s.scalars(loads)
            ]
        return sorted(rows, key=lambda r: (r.recorded_at, r.kind))


def add_ledger_columns(engine: Engine) -> None:
    """Add the load tables' newer columns to an audit database created before them
    (``create_all`` creates missing tables only); existing rows get NULL."""
    inspector = inspect(engine)
    with engine.begin() as conn:
        for table, column, type_ in LEDGER_COLUMNS:
            if column not in {c["name"] for c in inspector.get_columns(table)}:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {type_}"))


@lru_cache(maxsize=8)
def _store(url: str) -> AuditStore:
    return AuditStore(url)


def audit_store_for(env: Environment) -> AuditStore | None:
    """The environment's audit store (one engine per URL per process); None when not configured."""
    if env.audit is None:
        return None
    return _store(env.sqlalchemy_url(env.audit.url))
