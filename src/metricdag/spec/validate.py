"""Rules that span a whole metric, each reported at the line at fault."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from metricdag.errors import Problem
from metricdag.spec.catalog_index import CatalogIndex
from metricdag.spec.models import SOURCE_SUFFIX, MetricSpec, NodeSpec
from metricdag.yamlio import did_you_mean, line_of, unknown_name
from metricdag.spec.layers import NODE_LAYERS


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
                siblings = [p.parent.name for p in folder.parent.glob("*/metric.yaml") if p.parent != folder]
                add(
                    ("sourcing", i, "from_metric"),
                    f"unknown metric {s.from_metric!r}: no {folder.parent / s.from_metric / 'metric.yaml'}"
                    + did_you_mean(s.from_metric, siblings),
                )

    seen_nodes: dict[str, tuple[str, int]] = {}
    writer: dict[str, str] = {}
    for layer in NODE_LAYERS:
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
            elif node.is_sql:
                problems.extend(sql_template_problems(node, folder))
            if isinstance(node.retry_policy, str) and node.retry_policy not in retry_policy_names:
                add((layer, i, "retry_policy"), _unknown_policy(node.retry_policy, retry_policy_names))

    known = sources | set(writer)
    for layer in NODE_LAYERS:
        for i, node in enumerate(getattr(spec, layer)):
            for j, name in enumerate(node.inputs):
                if name not in known:
                    add(
                        (layer, i, "inputs", j),
                        f"unknown dataset {name!r}: not sourced and not produced by any node" + did_you_mean(name, known),
                    )
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
    add_freshness_problems(spec, add)
    for i, persist in enumerate(spec.persist):
        if persist.dataset not in writer:
            add(("persist", i, "dataset"), f"persist of unknown dataset {persist.dataset!r}: no node produces it")
        elif not any(r.dataset == persist.dataset for r in spec.review):
            add(("persist", i, "dataset"), f"{persist.dataset!r} is persisted without a review: add it under review:")

    if isinstance(spec.retry_policy, str) and spec.retry_policy not in retry_policy_names:
        add(("retry_policy",), _unknown_policy(spec.retry_policy, retry_policy_names))
    return problems


def catalog_problems(spec: MetricSpec, tree: Any, path: Path, catalog: CatalogIndex) -> list[Problem]:
    """Datasets the catalog does not know, reported where they are declared: a dataset sourced
    from the catalog (not ``from_metric``) and every node output must have a catalog entry (its
    schema is what outputs are checked against); output keys and persisted partition columns
    must be columns of that entry."""
    problems: list[Problem] = []

    def add(loc: tuple, message: str) -> None:
        problems.append(Problem(str(path), line_of(tree, loc), message))

    def unknown(dataset: str, role: str) -> str:
        return (
            f"{role} {dataset!r} has no catalog entry (checked {catalog.where()})"
            + (did_you_mean(dataset, catalog.names) or "; register it in pipeline-configs/catalog/")
        )

    for i, s in enumerate(spec.sourcing):
        if s.from_metric is None and s.dataset not in catalog:
            add(("sourcing", i, "dataset"), unknown(s.dataset, "sourced dataset"))
    for layer, index, node in _indexed_nodes(spec):
        for j, out in enumerate(node.outputs):
            if out.dataset not in catalog:
                add((layer, index, "outputs", j, "dataset"), unknown(out.dataset, "output dataset"))
                continue
            columns = catalog.columns[out.dataset]
            for k, column in enumerate(out.key):
                if column not in columns:
                    add(
                        (layer, index, "outputs", j, "key", k),
                        f"key column {column!r} is not a column of {out.dataset!r} in the catalog"
                        + did_you_mean(column, columns),
                    )
    for i, persist in enumerate(spec.persist):
        columns = catalog.columns.get(persist.dataset)
        if columns is not None and persist.partition_column not in columns:
            add(
                ("persist", i, "partition_column"),
                f"partition column {persist.partition_column!r} is not a column of {persist.dataset!r} in the catalog"
                + did_you_mean(persist.partition_column, columns),
            )
    return problems


def upstream_problems(
    spec: MetricSpec, tree: Any, path: Path, upstream: Mapping[str, MetricSpec | None]
) -> list[Problem]:
    """``from_metric`` sources must be reviewed outputs of that metric (the asset read is
    ``<from_metric>/review/<dataset>``). ``upstream``: metric name -> its spec, or None when it
    does not load (its own validation reports why)."""
    problems: list[Problem] = []
    for i, s in enumerate(spec.sourcing):
        other = upstream.get(s.from_metric) if s.from_metric else None
        if other is None:
            continue
        produced = sorted({o.dataset for _, n in other.nodes() for o in n.outputs})
        reviewed = {r.dataset for r in other.review}
        line = line_of(tree, ("sourcing", i, "dataset"))
        if s.dataset not in produced:
            message = (
                f"metric {s.from_metric!r} does not produce {s.dataset!r} (its outputs: {', '.join(produced)})"
                + did_you_mean(s.dataset, produced)
            )
        elif s.dataset not in reviewed:
            message = (
                f"{s.dataset!r} of metric {s.from_metric!r} is not reviewed there: only reviewed outputs can be "
                f"read with from_metric (add it under review: in metrics/{s.from_metric}/metric.yaml)"
            )
        else:
            continue
        problems.append(Problem(str(path), line, message))
    return problems


def alert_route_problems(spec: MetricSpec, tree: Any, path: Path, routes: Iterable[str], routes_file: str) -> list[Problem]:
    """Every ``alert_routes`` entry must be a route of ``routes_file`` (alerting.yaml)."""
    known = sorted(routes)
    problems = []
    for k, name in enumerate(spec.alert_routes):
        if name not in known:
            problems.append(
                Problem(
                    str(path),
                    line_of(tree, ("alert_routes", k)),
                    unknown_name("alert route", name, known, "routes", where=f": not a route in {routes_file}"),
                )
            )
    return problems


def _indexed_nodes(spec: MetricSpec) -> list[tuple[str, int, NodeSpec]]:
    return [(layer, i, node) for layer in NODE_LAYERS for i, node in enumerate(getattr(spec, layer))]


NUMERIC_COLUMN_TYPES = frozenset({"int64", "float64", "decimal"})


def measure_problems(
    spec: MetricSpec, tree: Any, path: Path, columns: Mapping[str, Mapping[str, str]]
) -> list[Problem]:
    """Review checks that name a column the reviewed dataset does not have (a measure's column,
    a range column that is not numeric, not_null / unique / accepted_values columns).
    ``columns``: dataset -> column -> catalog type, for the datasets whose schema is known;
    checks of other datasets are left to run time."""
    problems = []
    for i, review in enumerate(spec.review):
        known = columns.get(review.dataset)
        if known is None:
            continue
        for j, check in enumerate(review.checks):
            if check.type == "sql":
                from metricdag.review.checks import sql_problem  # DuckDB, in memory over no rows

                if message := sql_problem(check.query, review.dataset, known):
                    problems.append(Problem(str(path), line_of(tree, ("review", i, "checks", j, "query")),
                                            f"sql check on {review.dataset!r}: {message}"))
            for loc, column, numeric in _check_columns(check):
                line = line_of(tree, ("review", i, "checks", j, *loc))
                if column not in known:
                    problems.append(Problem(str(path), line, f"{check.type} check on {review.dataset!r}: unknown column "
                                            f"{column!r} (columns: {', '.join(sorted(known))})" + did_you_mean(column, known)))
                elif numeric and known[column] not in NUMERIC_COLUMN_TYPES:
                    problems.append(Problem(str(path), line, f"{check.type} check on {review.dataset!r}: column {column!r} "
                                            f"is {known[column]}, not numeric"))
    return problems


def _check_columns(check: Any) -> list[tuple[tuple, str, bool]]:
    """(location under the check, column, must be numeric) for every column a check names."""
    if getattr(check, "measure", None) is not None:
        return [] if check.column is None else [(("measure",), check.column, True)]
    if check.type == "range":
        return [(("column",), check.column, True)]
    if check.type == "accepted_values":
        return [(("column",), check.column, False)]
    if check.type in ("not_null", "unique"):
        return [(("columns", k), column, False) for k, column in enumerate(check.columns)]
    return []


def sql_template_problems(node: NodeSpec, folder: Path) -> list[Problem]:
    """A SQL node's file against the reference syntax, each problem at its line in the .sql file."""
    from metricdag.errors import SpecError
    from metricdag.nodes.sql_template import load

    try:
        load(folder / node.entrypoint_path, declared_inputs=node.inputs)
    except SpecError as exc:
        return list(exc.problems)
    return []


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



def add_freshness_problems(spec: MetricSpec, add: Callable[[tuple, str], None]) -> None:
    """A freshness check names a dataset the metric sources itself, and each such source once
    (its check runs on the sourcing asset)."""
    sourced = {s.dataset: s for s in spec.sourcing}
    seen: set[str] = set()
    for i, review in enumerate(spec.review):
        for j, check in enumerate(review.checks):
            if check.type != "freshness":
                continue
            loc = ("review", i, "checks", j, "source")
            source = sourced.get(check.source)
            if source is None:
                add(loc, unknown_name("sourced dataset", check.source, sourced, "sourcing", " in a freshness check"))
            elif source.from_metric:
                add(loc, f"freshness check: {check.source!r} comes from metric {source.from_metric!r}, whose own "
                         "review accepted it; check the freshness of its sources there")
            elif check.source in seen:
                add(loc, f"a second freshness check of source {check.source!r}: one per source")
            seen.add(check.source)
