"""Pure functions: an events.yaml target -> the asset keys of one metric a run materializes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import dagster as dg

from metricdag.errors import ConfigError
from metricdag.events.models import Target
from metricdag.factory.assets import asset_key
from metricdag.spec.loader import Metric
from metricdag.spec.layers import SOURCING


def start_keys(metric: Metric, target: Target) -> set[dg.AssetKey]:
    """The assets of the selected node (its outputs), or of a dataset the metric sources itself."""
    for layer, node in metric.spec.nodes():
        if node.name == target.select:
            return {asset_key(metric.name, layer, out.dataset) for out in node.outputs}
    for s in metric.spec.sourcing:
        if s.dataset == target.select and not s.from_metric:
            return {asset_key(metric.name, SOURCING, s.dataset)}
    nodes = [n.name for _, n in metric.spec.nodes()]
    raise ConfigError(
        f"pipeline-configs/events.yaml: metric {metric.name} has no node or sourced dataset {target.select!r} "
        f"(nodes: {', '.join(nodes)})"
    )


def dependency_graph(assets: Iterable[dg.AssetsDefinition]) -> dict[dg.AssetKey, set[dg.AssetKey]]:
    """asset key -> the keys it depends on."""
    graph: dict[dg.AssetKey, set[dg.AssetKey]] = {}
    for ad in assets:
        for spec in ad.specs:
            graph[spec.key] = {dep.asset_key for dep in spec.deps}
    return graph


def downstream_closure(graph: Mapping[dg.AssetKey, set[dg.AssetKey]], start: set[dg.AssetKey]) -> set[dg.AssetKey]:
    """``start`` and every key that depends on one of them, transitively."""
    selected = set(start)
    changed = True
    while changed:
        changed = False
        for key, deps in graph.items():
            if key not in selected and deps & selected:
                selected.add(key)
                changed = True
    return selected


def selection_for(metric: Metric, targets: Iterable[Target], graph: Mapping[dg.AssetKey, set[dg.AssetKey]]) -> list[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for target in targets:
        start = start_keys(metric, target)
        keys |= downstream_closure(graph, start) if target.downstream else start
    return sorted(keys, key=lambda k: k.to_user_string())


def node_groups(assets: Iterable[dg.AssetsDefinition]) -> dict[dg.AssetKey, frozenset[dg.AssetKey]]:
    """asset key -> every key its definition materializes together (a node's outputs)."""
    return {key: frozenset(ad.keys) for ad in assets for key in ad.keys}


@dataclass(frozen=True)
class MissingUpstreams:
    """What a selection needs for one partition and that has no data for it."""

    add: frozenset[dg.AssetKey]  # this location's assets: materialized in the same run
    external: frozenset[dg.AssetKey]  # other code locations' assets (another metric's review output)


def missing_upstreams(
    graph: Mapping[dg.AssetKey, set[dg.AssetKey]],
    selection: Iterable[dg.AssetKey],
    present: Callable[[dg.AssetKey], bool],
    groups: Mapping[dg.AssetKey, frozenset[dg.AssetKey]] | None = None,
) -> MissingUpstreams:
    """Walk upstream from ``selection``: every upstream that is not ``present`` (has no data for the
    partition) is missing, and so are its own missing upstreams; a present one ends the walk there.
    Keys of ``graph`` are this location's assets; a dependency that is not one is external.
    ``groups`` adds a missing key's siblings (outputs of the same node, materialized together)."""
    groups = groups or {}
    selected = set(selection)
    seen = set(selected)
    add: set[dg.AssetKey] = set()
    external: set[dg.AssetKey] = set()
    frontier = list(selected)
    while frontier:
        for dep in sorted(graph.get(frontier.pop(), ()), key=lambda k: k.to_user_string()):
            if dep in seen:
                continue
            seen.add(dep)
            if present(dep):
                continue
            if dep not in graph:
                external.add(dep)
                continue
            for key in groups.get(dep, frozenset({dep})):
                if key not in selected:
                    add.add(key)
                    frontier.append(key)
                seen.add(key)
    return MissingUpstreams(frozenset(add), frozenset(external))
