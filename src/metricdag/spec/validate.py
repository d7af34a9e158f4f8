"""Rules that span a whole metric, each reported at the line at fault."""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from metricdag.errors import Problem
from metricdag.spec.models import SOURCE_SUFFIX, MetricSpec, NodeSpec
from metricdag.yamlio import line_of


def node_graph(spec: MetricSpec) -> dict[str, set[str]]:
    """node name -> names of the nodes it reads from."""
    producer = {out: node.name for _, node in spec.nodes() for out in node.output_names}
    return {node.name: {producer[i] for i in node.inputs if i in producer} for _, node in spec.nodes()}


def semantic_problems(
    spec: MetricSpec, tree: Any, path: Path, folder: Path, retry_policy_names: set[str]
) -> list[Problem]:
    problems: list[Problem] = []

    def add(loc: tuple, message: str) -> None:
        problems.append(Problem(str(path), line_of(tree, loc), message))

    if spec.name != folder.name:
        add(("name",), f"metric name {spec.name!r} must match its folder name {folder.name!r}")

    sources: set[str] = set()
    for i, s in enumerate(spec.sourcing):
        if s.dataset in sources:
            add(("sourcing", i), f"dataset {s.dataset!r} is sourced twice")
        sources.add(s.dataset)
        if s.from_metric is not None:
            if s.from_metric == spec.name:
                add(("sourcing", i, "from_metric"), f"metric {spec.name!r} cannot read its own output {s.dataset!r}")
            elif not (folder.parent / s.from_metric / "metric.yaml").is_file():
                add(("sourcing", i, "from_metric"), f"unknown metric {s.from_metric!r}: no {folder.parent / s.from_metric / 'metric.yaml'}")

    seen_nodes: dict[str, tuple[str, int]] = {}
    writer: dict[str, str] = {}
    for layer in ("preprocessing", "metric_calculation"):
        for i, node in enumerate(getattr(spec, layer)):
            if node.name in seen_nodes:
                add((layer, i, "name"), f"node name {node.name!r} is used twice")
            seen_nodes[node.name] = (layer, i)
            for j, out in enumerate(node.output_names):
                if out in sources:
                    add((layer, i, "outputs", j), f"output {out!r} is also a sourcing dataset")
                elif out in writer:
                    add(
                        (layer, i, "outputs", j),
                        f"output {out!r} is written by two nodes: {writer[out]!r} and {node.name!r}",
                    )
                else:
                    writer[out] = node.name
            if message := entrypoint_problem(node, folder):
                add((layer, i, "entrypoint"), message)
            if isinstance(node.retry_policy, str) and node.retry_policy not in retry_policy_names:
                add((layer, i, "retry_policy"), _unknown_policy(node.retry_policy, retry_policy_names))

    known = sources | set(writer)
    for layer in ("preprocessing", "metric_calculation"):
        for i, node in enumerate(getattr(spec, layer)):
            for j, name in enumerate(node.inputs):
                if name not in known:
                    add((layer, i, "inputs", j), f"unknown dataset {name!r}: not sourced and not produced by any node")
                elif name in node.output_names:
                    add((layer, i, "inputs", j), f"node {node.name!r} reads its own output {name!r}")

    try:
        TopologicalSorter(node_graph(spec)).prepare()
    except CycleError as exc:
        cycle = exc.args[1]
        layer, index = seen_nodes[cycle[0]]
        add((layer, index, "inputs"), "cycle between nodes: " + " -> ".join(cycle))

    for i, review in enumerate(spec.review):
        if review.dataset not in writer:
            add(("review", i, "dataset"), f"review of unknown dataset {review.dataset!r}: no node produces it")
    for i, persist in enumerate(spec.persist):
        if persist.dataset not in writer:
            add(("persist", i, "dataset"), f"persist of unknown dataset {persist.dataset!r}: no node produces it")
        elif not any(r.dataset == persist.dataset for r in spec.review):
            add(("persist", i, "dataset"), f"{persist.dataset!r} is persisted without a review: add it under review:")

    if isinstance(spec.retry_policy, str) and spec.retry_policy not in retry_policy_names:
        add(("retry_policy",), _unknown_policy(spec.retry_policy, retry_policy_names))
    return problems


NUMERIC_COLUMN_TYPES = frozenset({"int64", "float64", "decimal"})


def measure_problems(
    spec: MetricSpec, tree: Any, path: Path, columns: Mapping[str, Mapping[str, str]]
) -> list[Problem]:
    """Review checks that measure a column the reviewed dataset does not have (or that is not
    numeric). ``columns``: dataset -> column -> catalog type, for the datasets whose schema is
    known; checks of other datasets are left to run time."""
    problems = []
    for i, review in enumerate(spec.review):
        known = columns.get(review.dataset)
        if known is None:
            continue
        for j, check in enumerate(review.checks):
            column = getattr(check, "column", None)
            if column is None:
                continue
            line = line_of(tree, ("review", i, "checks", j, "measure"))
            if column not in known:
                problems.append(Problem(str(path), line, f"{check.type} check on {review.dataset!r}: unknown column "
                                        f"{column!r} (columns: {', '.join(sorted(known))})"))
            elif known[column] not in NUMERIC_COLUMN_TYPES:
                problems.append(Problem(str(path), line, f"{check.type} check on {review.dataset!r}: column {column!r} "
                                        f"is {known[column]}, not numeric"))
    return problems


def entrypoint_problem(node: NodeSpec, folder: Path) -> str | None:
    """What is missing on disk for the node's entrypoint, if anything."""
    target = folder / node.entrypoint_path
    if not node.is_jvm:
        return None if target.is_file() else f"entrypoint file {node.entrypoint_path!r} does not exist in {folder}"
    if not target.is_dir():
        return f"source folder {node.entrypoint_path!r} of {node.language} node {node.name!r} does not exist in {folder}"
    suffix = SOURCE_SUFFIX[node.language]
    if not any(target.rglob(f"*{suffix}")):
        return f"source folder {node.entrypoint_path!r} of {node.language} node {node.name!r} has no {suffix} files"
    return None


def _unknown_policy(name: str, known: set[str]) -> str:
    return f"unknown retry policy {name!r} (pipeline-configs/retry-policies.yaml has: {', '.join(sorted(known)) or 'none'})"

