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


def summary(f: Failure) -> str:
    return f"[{f.environment}] {f.metric} {f.partition} failed at {f.node}"[:1024]


def email_body(f: Failure) -> str:
    return (
        f"{summary(f)}\n\nrun: {f.run_id}\nmetric: {f.metric}\npartition: {f.partition}\n"
        f"node: {f.node}\n\n{f.reason}\n"
    )
