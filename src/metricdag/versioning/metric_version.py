"""The metric version: a stable hash of what changes a metric's output, and what went into it.

In it: the parsed (normalized) definition of every source, node, blocking review check and persist
target, and each node's code version (its declaration plus the sources of python and JVM nodes).
Not in it: what cannot change a published number — owner, description, schedule, retry policy,
alert routes, and review checks of severity ``warn`` (they report, they never gate publishing).
Inputs' catalog versions are recorded beside the metric version, not in it: the same definition
over restated inputs is the same metric version with different input versions.

Comments, key order and whitespace of metric.yaml never count: the hash is taken over the
validated pydantic models, serialized as canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from metricdag.nodes.execute import node_code_version
from metricdag.spec.loader import Metric

VERSION_LENGTH = 12
HASH_FORMAT = "metricdag-metric-version/1"


@dataclass(frozen=True)
class VersionPart:
    """One thing that went into a metric version: its kind, its name and its own digest."""

    kind: str  # source | node | review | persist
    name: str
    digest: str


@dataclass(frozen=True)
class MetricVersion:
    metric: str
    version: str
    parts: tuple[VersionPart, ...]

    @cached_property
    def _node_digests(self) -> dict[str, str]:
        return {p.name: p.digest for p in self.parts if p.kind == "node"}

    def node_versions(self) -> dict[str, str]:
        return dict(self._node_digests)

    def node_version(self, node: str) -> str:
        """The code version of one node (what its assets show), without rehashing its sources."""
        return self._node_digests[node]

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "metric_version": self.version,
            "parts": [{"kind": p.kind, "name": p.name, "digest": p.digest} for p in self.parts],
        }


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def version_parts(metric: Metric) -> tuple[VersionPart, ...]:
    """What the version of ``metric`` is made of, in a fixed order."""
    spec = metric.spec
    parts: list[VersionPart] = [
        VersionPart("source", s.dataset, _digest(s.model_dump(mode="json", exclude={"description"})))
        for s in spec.sourcing
    ]
    parts += [
        VersionPart("node", node.name, node_code_version(metric.folder, node)) for _, node in spec.nodes()
    ]
    for review in spec.review:
        gating = [c.model_dump(mode="json") for c in review.checks if c.severity == "error"]
        if gating:
            parts.append(VersionPart("review", review.dataset, _digest(gating)))
    parts += [VersionPart("persist", p.dataset, _digest(p.model_dump(mode="json"))) for p in spec.persist]
    return tuple(parts)


def metric_version(metric: Metric) -> MetricVersion:
    """The metric's current version: the same definition gives the same version on every machine."""
    parts = version_parts(metric)
    payload = [HASH_FORMAT, metric.name, [[p.kind, p.name, p.digest] for p in parts]]
    return MetricVersion(metric.name, _digest(payload)[:VERSION_LENGTH], parts)
