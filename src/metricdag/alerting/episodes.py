"""Pure: the PagerDuty dedup key of a failure, and the alert text."""

from __future__ import annotations

from dataclasses import dataclass


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


def cause(f: Failure) -> str:
    """The first line of the reason: the root cause of the failure."""
    return next((line.strip() for line in f.reason.splitlines() if line.strip()), "")


def summary(f: Failure) -> str:
    """E-mail subject and PagerDuty summary (at most 1024 characters, PagerDuty's limit)."""
    head = f"[{f.environment}] {f.metric} {f.partition} failed at {f.node}"
    return (f"{head}: {cause(f)}" if cause(f) else head)[:1024]


def email_body(f: Failure) -> str:
    return (
        f"{summary(f)}\n\ncause: {cause(f) or 'unknown'}\nrun: {f.run_id}\nmetric: {f.metric}\n"
        f"partition: {f.partition}\nnode: {f.node}\n\n{f.reason}\n"
    )
