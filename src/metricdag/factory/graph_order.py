"""Topological levels in time linear in the graph, for Dagster's job and asset-graph builds.

Dagster orders a job's graph (``GraphDefinition``), checks it for cycles and sorts the asset
graph by level with ``toposort.toposort``, which rebuilds the whole remaining graph once per
level: O(items x levels). A metric whose nodes form long chains is deep (a chain of 1,000
nodes is 1,000 levels), so a location of 10,000 such assets rebuilt 10,000 sets 1,000 times,
several times per load, and the garbage collector scanned the heap over and over while those
sets piled up (most of a 10,000-asset load). :func:`toposort_levels` yields the same levels
(the same sets, in the same order, and the same ``CircularDependencyError`` for a cycle) by
counting each item's unmet dependencies: O(items + edges).

:func:`install` puts it in place of ``toposort.toposort`` (Dagster calls it through the module),
once, when the factory is imported: what a code server loads before it builds any job.

Dagster also walks a job's graph recursively, one Python frame per level (``GraphDefinition``
building its adjacency lists, from nodes in no fixed order): a metric with a chain of about
1,000 nodes failed to load with ``RecursionError`` or not, from one process to the next.
:func:`fit_recursion_limit` makes room for the metric's depth.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterator, Mapping
from typing import AbstractSet

import toposort as _toposort

from metricdag.spec.models import MetricSpec
from metricdag.spec.validate import node_graph

_ORIGINAL = _toposort.toposort


def toposort_levels(data: Mapping[Hashable, AbstractSet[Hashable]]) -> Iterator[set]:
    """``toposort.toposort(data)``: the items without dependencies, then the items whose
    dependencies are all in the levels before, and so on; an item's dependency on itself is
    ignored and a dependency that is not a key is an item of the first level."""
    if len(data) == 0:
        return
    deps = {item: {d for d in dep if d != item} for item, dep in data.items()}
    for extra in {d for dep in deps.values() for d in dep} - deps.keys():
        deps[extra] = set()
    waiting = {item: len(dep) for item, dep in deps.items()}
    dependents: dict[Hashable, list] = {}
    for item, dep in deps.items():
        for d in dep:
            dependents.setdefault(d, []).append(item)
    level = {item for item, count in waiting.items() if count == 0}
    done: set = set()
    while level:
        yield set(level)  # a copy: the caller may change what it was given
        done |= level
        ready = set()
        for item in level:
            for dependent in dependents.get(item, ()):
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    ready.add(dependent)
        level = ready
    if len(done) != len(deps):
        raise _toposort.CircularDependencyError({item: dep - done for item, dep in deps.items() if item not in done})


def install() -> None:
    """Use :func:`toposort_levels` for every ``toposort.toposort`` call in this process."""
    if _toposort.toposort is _ORIGINAL:
        _toposort.toposort = toposort_levels


STACK_ROOM = 1000  # frames for whatever calls the build (a code server, a test), as Python's default limit


def fit_recursion_limit(spec: MetricSpec) -> None:
    """Raise the recursion limit (never lower it) so a recursive walk of the metric's graph, one
    frame per level, fits above :data:`STACK_ROOM` frames of callers."""
    levels = sum(1 for _ in toposort_levels(node_graph(spec))) + 4  # sourcing, review, checks, persist
    if sys.getrecursionlimit() < levels + STACK_ROOM:
        sys.setrecursionlimit(levels + STACK_ROOM)
