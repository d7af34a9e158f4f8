"""``AuditStore(url)``: write and read audit records, the load ledger and incidents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from sqlalchemy import Engine, create_engine, inspect, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from metricdag.audit.models import (
    Acceptance,
    AlertDelivery,
    BacktestRecord,
    Base,
    CheckEvaluation,
    Incident,
    IncidentPartition,
    LedgerEntry,
    LoadRecord,
    PublicationRecord,
    RunRecord,
)
from metricdag.alerting.episodes import joins_episode
from metricdag.settings import Environment

RUN_STATUSES = ("started", "succeeded", "failed", "retried")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "superseded")
CLAIM_S = 300  # a claimed delivery is someone else's for this long (then it is pending again)
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


@dataclass(frozen=True)
class Publication:
    """The lineage of one load (recorded with it as a :class:`PublicationRecord`)."""

    partition_column: str
    key_columns: list[str]
    metric_version: str | None
    node_versions: dict[str, str]
    input_rows: dict[str, int]
    review_results: list[dict]
    loaded_at: datetime
    rows_run_id: str


@dataclass(frozen=True)
class NewDelivery:
    """One alert to enqueue: an episode's trigger or resolve to one channel of one route."""

    action: str  # trigger | resolve
    channel: str  # email | pagerduty
    route: str
    message: dict


@dataclass(frozen=True)
class Episode:
    """One failure episode and what of its alerts was delivered (``metricdag audit``)."""

    dedup_key: str
    metric: str
    partition: str
    node: str
    run_id: str
    opened_at: datetime
    state: str  # open | resolved
    partitions: list[str] = field(default_factory=list)  # every partition the episode spans, oldest first
    delivered: list[str] = field(default_factory=list)  # "<action> <channel>:<route>"
    undelivered: list[str] = field(default_factory=list)  # "... <status>, <n> attempt(s): <last error>"


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
        fingerprint: str | None = None, detail: str | None = None, publication: Publication | None = None,
    ) -> None:
        """An audit record of a load; a ``loaded`` or ``reloaded`` one also becomes the partition's
        ledger entry, with the ``fingerprint`` of the rows as they were after the load. With a
        ``publication`` (a metric's load) its lineage is recorded in the same transaction."""
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
            if publication is not None and metric:
                p = publication
                s.add(PublicationRecord(
                    environment=environment, metric=metric, dataset=dataset, table=table,
                    partition_column=p.partition_column, partition=partition, key_columns=list(p.key_columns),
                    run_id=run_id, rows_run_id=p.rows_run_id, status=status, metric_version=p.metric_version,
                    node_versions=dict(p.node_versions), catalog_versions=dict(catalog_versions or {}),
                    input_rows=dict(p.input_rows), review_results=list(p.review_results), rows=rows,
                    checksum=checksum, loaded_at=p.loaded_at,
                ))

    def publications(
        self, environment: str, metric: str, *, dataset: str | None = None, partition: str | None = None,
        run_id: str | None = None, metric_version: str | None = None, table: str | None = None,
    ) -> list[PublicationRecord]:
        """Publication records of ``metric``, oldest first, optionally narrowed. Without ``table``,
        loads into a backfill's staging schema are left out: they were never published."""
        from metricdag.persistence.publish import is_staging_schema
        from metricdag.persistence.sql import parse_table

        query = select(PublicationRecord).where(
            PublicationRecord.environment == environment, PublicationRecord.metric == metric
        )
        for column, value in ((PublicationRecord.dataset, dataset), (PublicationRecord.partition, partition),
                              (PublicationRecord.run_id, run_id), (PublicationRecord.metric_version, metric_version),
                              (PublicationRecord.table, table)):
            if value is not None:
                query = query.where(column == value)
        with self.session() as s:
            records = list(s.scalars(query.order_by(PublicationRecord.id)))
        return records if table is not None else [r for r in records if not is_staging_schema(parse_table(r.table).schema)]

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
        now = _now()
        with self.session() as s, s.begin():
            existing = s.get(Incident, dedup_key)
            if existing is not None and existing.resolved_at is None:
                return False
            if existing is None:
                s.add(Incident(dedup_key=dedup_key, environment=environment, metric=metric, partition=partition,
                               node=node, run_id=run_id, opened_at=now))
            else:
                existing.run_id, existing.opened_at, existing.resolved_at = run_id, now, None
            s.add(IncidentPartition(dedup_key=dedup_key, episode_opened_at=now, partition=partition, run_id=run_id,
                                    failed_at=now))
        return True

    def join_episode(
        self, *, environment: str, metric: str, partition: str, node: str, run_id: str
    ) -> tuple[Incident, list[str]] | None:
        """The open episode of ``node`` that a failure on ``partition`` belongs to (the same or a
        neighbouring partition: :func:`~metricdag.alerting.episodes.joins_episode`), with the
        partition added to it, and every partition it now spans; None when there is none."""
        now = _now()
        with self.session() as s, s.begin():
            for incident in s.scalars(select(Incident).where(
                Incident.environment == environment, Incident.metric == metric, Incident.node == node,
                Incident.resolved_at.is_(None),
            ).order_by(Incident.opened_at)):
                rows = {r.partition: r for r in s.scalars(self._partitions_of(incident))}
                if not joins_episode(partition, list(rows) or [incident.partition]):
                    continue
                if not rows:  # an episode opened before episodes had partitions
                    rows[incident.partition] = IncidentPartition(
                        dedup_key=incident.dedup_key, episode_opened_at=incident.opened_at,
                        partition=incident.partition, run_id=incident.run_id, failed_at=incident.opened_at)
                    s.add(rows[incident.partition])
                row = rows.get(partition)
                if row is None:
                    s.add(IncidentPartition(dedup_key=incident.dedup_key, episode_opened_at=incident.opened_at,
                                            partition=partition, run_id=run_id, failed_at=now))
                else:
                    row.run_id, row.failed_at, row.resolved_at = run_id, now, None
                return incident, sorted(set(rows) | {partition})
        return None

    @staticmethod
    def _partitions_of(incident: Incident):
        return select(IncidentPartition).where(
            IncidentPartition.dedup_key == incident.dedup_key,
            IncidentPartition.episode_opened_at == incident.opened_at,
        ).order_by(IncidentPartition.partition)

    def open_incidents(self, environment: str, metric: str, partition: str) -> list[Incident]:
        """The metric's open episodes that ``partition`` is failing in."""
        with self.session() as s:
            out = []
            for incident in s.scalars(select(Incident).where(
                Incident.environment == environment, Incident.metric == metric, Incident.resolved_at.is_(None),
            ).order_by(Incident.dedup_key)):
                rows = list(s.scalars(self._partitions_of(incident)))
                failing = [r.partition for r in rows if r.resolved_at is None] if rows else [incident.partition]
                if partition in failing:
                    out.append(incident)
            return out

    def resolve_partition(self, incident: Incident, partition: str) -> list[str]:
        """``partition`` of the episode succeeded: the episode resolves when it was the last one
        failing. Returns the partitions still failing (none: the episode is resolved)."""
        now = _now()
        with self.session() as s, s.begin():
            current = s.get(Incident, incident.dedup_key)
            if current is None or current.resolved_at is not None:
                return []
            rows = list(s.scalars(self._partitions_of(current)))
            for row in rows:
                if row.partition == partition:
                    row.resolved_at = now
            failing = [r.partition for r in rows if r.resolved_at is None]
            if not failing:
                current.resolved_at = now
            return failing

    def episode_partitions(self, incident: Incident) -> list[str]:
        with self.session() as s:
            return [r.partition for r in s.scalars(self._partitions_of(incident))] or [incident.partition]

    def resolve_incident(self, dedup_key: str) -> None:
        with self.session() as s, s.begin():
            incident = s.get(Incident, dedup_key)
            if incident is not None and incident.resolved_at is None:
                incident.resolved_at = _now()

    def incident(self, dedup_key: str) -> Incident | None:
        with self.session() as s:
            return s.get(Incident, dedup_key)

    # ------------------------------------------------------------------ outbox

    def enqueue(self, incident: Incident, deliveries: list[NewDelivery]) -> int:
        """Add the episode's deliveries as pending; one already there (same episode, action,
        channel and route) is kept as it is. Returns how many were added."""
        added = 0
        for d in deliveries:
            with self.session() as s:
                s.add(AlertDelivery(
                    dedup_key=incident.dedup_key, episode_opened_at=incident.opened_at,
                    environment=incident.environment, metric=incident.metric, partition=incident.partition,
                    action=d.action, channel=d.channel, route=d.route, message=d.message,
                    status="pending", attempts=0, last_error="", created_at=_now(),
                ))
                try:
                    s.commit()
                    added += 1
                except IntegrityError:
                    s.rollback()
        return added

    def deliveries(self, dedup_key: str, episode_opened_at: datetime | None = None) -> list[AlertDelivery]:
        query = select(AlertDelivery).where(AlertDelivery.dedup_key == dedup_key)
        if episode_opened_at is not None:
            query = query.where(AlertDelivery.episode_opened_at == episode_opened_at)
        with self.session() as s:
            return list(s.scalars(query.order_by(AlertDelivery.id)))

    def claim_pending(self, environment: str, metric: str, claim_s: float = CLAIM_S) -> list[AlertDelivery]:
        """The metric's pending deliveries, oldest first, each claimed by this caller (a delivery
        another sender holds is left out), so that no alert goes out twice."""
        now = _now()
        free = or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now)
        with self.session() as s:
            ids = list(s.scalars(select(AlertDelivery.id).where(
                AlertDelivery.environment == environment, AlertDelivery.metric == metric,
                AlertDelivery.status == "pending", free,
            ).order_by(AlertDelivery.id)))
        claimed = []
        for delivery_id in ids:
            with self.session() as s, s.begin():
                result = s.execute(
                    update(AlertDelivery)
                    .where(AlertDelivery.id == delivery_id, AlertDelivery.status == "pending", free)
                    .values(claimed_until=now + timedelta(seconds=claim_s))
                )
            if result.rowcount == 1:
                claimed.append(delivery_id)
        with self.session() as s:
            return list(s.scalars(select(AlertDelivery).where(AlertDelivery.id.in_(claimed)).order_by(AlertDelivery.id)))

    def finish_delivery(self, delivery_id: int, error: str | None = None, permanent: bool = False) -> None:
        """After one attempt: delivered (no error), else pending again (or failed when permanent)."""
        now = _now()
        with self.session() as s, s.begin():
            d = s.get(AlertDelivery, delivery_id)
            d.attempts += 1
            d.attempted_at, d.claimed_until = now, None
            if error is None:
                d.status, d.delivered_at, d.last_error = "delivered", now, ""
            else:
                d.status, d.last_error = ("failed" if permanent else "pending"), error[:2000]

    def release(self, delivery_id: int) -> None:
        """Give a claimed delivery back untried (it waits for an earlier one of its channel)."""
        with self.session() as s, s.begin():
            s.get(AlertDelivery, delivery_id).claimed_until = None

    def waits_for_earlier(self, delivery: AlertDelivery) -> bool:
        """True while an earlier delivery of the same episode, channel and route is still pending
        (a resolve must not overtake its trigger)."""
        with self.session() as s:
            return s.scalars(select(AlertDelivery.id).where(
                AlertDelivery.dedup_key == delivery.dedup_key,
                AlertDelivery.episode_opened_at == delivery.episode_opened_at,
                AlertDelivery.channel == delivery.channel, AlertDelivery.route == delivery.route,
                AlertDelivery.id < delivery.id, AlertDelivery.status == "pending",
            ).limit(1)).first() is not None

    def supersede(self, dedup_key: str, episode_opened_at: datetime, action: str, channel: str) -> list[str]:
        """Mark the episode's pending deliveries of ``action`` (a SQL LIKE pattern: ``update-%``)
        and ``channel`` superseded (not one a sender holds right now: it may be going out);
        returns their routes."""
        now = _now()
        with self.session() as s, s.begin():
            rows = list(s.scalars(select(AlertDelivery).where(
                AlertDelivery.dedup_key == dedup_key, AlertDelivery.episode_opened_at == episode_opened_at,
                AlertDelivery.action.like(action), AlertDelivery.channel == channel, AlertDelivery.status == "pending",
                or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now),
            )))
            for d in rows:
                d.status, d.claimed_until = "superseded", None
            return [d.route for d in rows]

    def episodes(self, metric: str | None = None, date: str | None = None) -> list[Episode]:
        """Every failure episode (oldest first) with what of its alerts was and was not delivered.
        A key that failed again after a resolve has one episode per opening."""
        incidents_q, rows_q = select(Incident), select(AlertDelivery).order_by(AlertDelivery.id)
        if metric:
            incidents_q, rows_q = incidents_q.where(Incident.metric == metric), rows_q.where(AlertDelivery.metric == metric)
        with self.session() as s:
            spans: dict[tuple[str, datetime], list[str]] = {}
            for r in s.scalars(select(IncidentPartition).order_by(IncidentPartition.partition)):
                spans.setdefault((r.dedup_key, r.episode_opened_at), []).append(r.partition)
            if date:  # the episodes that span the date
                keys = {k for (k, _), parts in spans.items() if date in parts}
                incidents_q = incidents_q.where(or_(Incident.partition == date, Incident.dedup_key.in_(keys)))
                rows_q = rows_q.where(or_(AlertDelivery.partition == date, AlertDelivery.dedup_key.in_(keys)))
            incidents = {i.dedup_key: i for i in s.scalars(incidents_q)}
            rows = list(s.scalars(rows_q))
        episodes: dict[tuple[str, datetime], Episode] = {}
        for i in incidents.values():
            state = "open" if i.resolved_at is None else "resolved"
            episodes[(i.dedup_key, i.opened_at)] = Episode(
                i.dedup_key, i.metric, i.partition, i.node, i.run_id, i.opened_at, state,
                spans.get((i.dedup_key, i.opened_at), [i.partition]),
            )
        for d in rows:
            episode = episodes.get((d.dedup_key, d.episode_opened_at))
            if episode is None:  # an earlier episode of a key that opened again since: resolved
                incident = incidents.get(d.dedup_key)
                episode = episodes[(d.dedup_key, d.episode_opened_at)] = Episode(
                    d.dedup_key, d.metric, d.partition, incident.node if incident else "", "",
                    d.episode_opened_at, "resolved", spans.get((d.dedup_key, d.episode_opened_at), [d.partition]),
                )
            label = f"{d.action} {d.channel}:{d.route}"
            if d.status == "delivered":
                episode.delivered.append(label)
            else:
                tried = f"{d.attempts} attempt{'s' if d.attempts != 1 else ''}"
                episode.undelivered.append(
                    f"{label} ({d.status}, {tried}{': ' + d.last_error if d.last_error else ''})"
                )
        return sorted(episodes.values(), key=lambda e: (e.opened_at, e.dedup_key))

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


    # ------------------------------------------------------- metrics repository

    def record_evaluation(self, evaluation: CheckEvaluation) -> None:
        """One review check evaluation (its ``recorded_at`` is set here)."""
        evaluation.recorded_at = _now()
        with self.session() as s, s.begin():
            s.add(evaluation)

    def record_acceptance(self, *, environment: str, metric: str, dataset: str, partition: str, run_id: str) -> None:
        """A run accepted the partition (idempotent per run: a re-executed step adds nothing)."""
        with self.session() as s:
            s.add(Acceptance(environment=environment, metric=metric, dataset=dataset, partition=partition,
                             run_id=run_id, recorded_at=_now()))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()

    def evaluations(
        self, environment: str, metric: str, *, check: str | None = None, dataset: str | None = None,
        partitions: list[str] | None = None,
    ) -> list[CheckEvaluation]:
        """The evaluations of ``metric``'s checks, oldest first, optionally narrowed."""
        query = select(CheckEvaluation).where(CheckEvaluation.environment == environment, CheckEvaluation.metric == metric)
        if check is not None:
            query = query.where(CheckEvaluation.check == check)
        if dataset is not None:
            query = query.where(CheckEvaluation.dataset == dataset)
        if partitions is not None:
            query = query.where(CheckEvaluation.partition.in_(partitions))
        with self.session() as s:
            return list(s.scalars(query.order_by(CheckEvaluation.id)))

    def accepted_runs(self, environment: str, metric: str, dataset: str, partitions: list[str]) -> dict[str, str]:
        """partition -> the run that last accepted it, for those of ``partitions`` ever accepted."""
        with self.session() as s:
            rows = s.scalars(
                select(Acceptance).where(Acceptance.environment == environment, Acceptance.metric == metric,
                                         Acceptance.dataset == dataset, Acceptance.partition.in_(partitions))
                .order_by(Acceptance.id)
            )
            return {r.partition: r.run_id for r in rows}

    def accepted_partitions(self, environment: str, metric: str, dataset: str) -> list[str]:
        """Every partition of the dataset some run accepted, oldest first."""
        with self.session() as s:
            rows = s.scalars(
                select(Acceptance.partition).where(Acceptance.environment == environment, Acceptance.metric == metric,
                                                   Acceptance.dataset == dataset).distinct()
            )
            return sorted(rows)

    def record_backtest(self, record: BacktestRecord) -> None:
        record.recorded_at = _now()
        with self.session() as s, s.begin():
            s.add(record)

    def backtests(self, environment: str, metric: str, dataset: str | None = None) -> list[BacktestRecord]:
        """The recorded backtests of ``metric``'s checks, oldest first."""
        query = select(BacktestRecord).where(BacktestRecord.environment == environment, BacktestRecord.metric == metric)
        if dataset is not None:
            query = query.where(BacktestRecord.dataset == dataset)
        with self.session() as s:
            return list(s.scalars(query.order_by(BacktestRecord.id)))

    def accepted_unevaluated(self, environment: str, metric: str, dataset: str, check_hash: str) -> int:
        """How many accepted partitions of the dataset were accepted by a run that did not
        evaluate this check definition (the history a new or changed check was never run over)."""
        evaluated = select(CheckEvaluation.id).where(
            CheckEvaluation.environment == Acceptance.environment, CheckEvaluation.metric == Acceptance.metric,
            CheckEvaluation.dataset == Acceptance.dataset, CheckEvaluation.partition == Acceptance.partition,
            CheckEvaluation.run_id == Acceptance.run_id, CheckEvaluation.check_hash == check_hash,
        ).exists()
        with self.session() as s:
            rows = s.execute(
                select(Acceptance.partition, evaluated).where(
                    Acceptance.environment == environment, Acceptance.metric == metric, Acceptance.dataset == dataset
                ).order_by(Acceptance.id)
            )
            last: dict[str, bool] = {}
            for partition, was_evaluated in rows:
                last[partition] = bool(was_evaluated)  # the partition's last accepting run decides
            return sum(1 for v in last.values() if not v)

    def evaluations_recorded(self, environment: str, metric: str, start: datetime, end: datetime) -> list[CheckEvaluation]:
        """The evaluations of ``metric`` recorded in [start, end) (UTC), oldest first."""
        with self.session() as s:
            return list(s.scalars(
                select(CheckEvaluation).where(
                    CheckEvaluation.environment == environment, CheckEvaluation.metric == metric,
                    CheckEvaluation.recorded_at >= start, CheckEvaluation.recorded_at < end,
                ).order_by(CheckEvaluation.id)
            ))

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
