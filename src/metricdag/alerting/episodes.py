"""Pure: the PagerDuty dedup key of a failure, which partitions one episode spans, and the alert text.

An episode is one failure of one node (a step, or a rejected review check) that may span several
partitions: a failure on a partition next to one the node's open episode already has (the day
before or after) joins that episode instead of opening (and paging) a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Failure:
    environment: str
    metric: str
    partition: str
    node: str  # the failed step, or the rejected review check
    run_id: str
    reason: str


def dedup_key(environment: str, metric: str, partition: str, node: str) -> str:
    return f"{environment}:{metric}:{partition}:{node}"


def failure_key(f: Failure) -> str:
    return dedup_key(f.environment, f.metric, f.partition, f.node)


def _day(partition: str) -> date | None:
    try:
        return date.fromisoformat(partition)
    except ValueError:
        return None


def joins_episode(partition: str, partitions: list[str]) -> bool:
    """True when a failure on ``partition`` belongs to an episode that spans ``partitions``: the
    same partition, or a daily partition next to one of them."""
    if partition in partitions:
        return True
    day = _day(partition)
    if day is None:
        return False
    neighbours = {(day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()}
    return not neighbours.isdisjoint(partitions)


def span(partitions: list[str]) -> str:
    """``2024-06-01`` for one partition, ``2024-06-01..2024-06-03 (3 partitions)`` for more."""
    ordered = sorted(set(partitions))
    if len(ordered) == 1:
        return ordered[0]
    return f"{ordered[0]}..{ordered[-1]} ({len(ordered)} partitions)"


def cause(f: Failure) -> str:
    """The first line of the reason: the root cause of the failure."""
    return next((line.strip() for line in f.reason.splitlines() if line.strip()), "")


def summary(f: Failure, partitions: list[str] | None = None) -> str:
    """E-mail subject and PagerDuty summary (at most 1024 characters, PagerDuty's limit); with
    ``partitions``, of the episode that spans them."""
    head = f"[{f.environment}] {f.metric} {span(partitions or [f.partition])} failed at {f.node}"
    return (f"{head}: {cause(f)}" if cause(f) else head)[:1024]


def email_body(f: Failure) -> str:
    return (
        f"{summary(f)}\n\ncause: {cause(f) or 'unknown'}\nrun: {f.run_id}\nmetric: {f.metric}\n"
        f"partition: {f.partition}\nnode: {f.node}\n\n{f.reason}\n"
    )
