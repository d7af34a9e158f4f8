"""``metricdag validate``: every problem of a project's metrics and the pipeline configs that
name them, as pure data (``path:line: message``). Local files only: no network call.

* each metric folder: :func:`~metricdag.spec.loader.load_metric` with the catalog entries of
  :func:`catalog_for_validation` (the local catalog files and the on-disk catalog cache);
* the local catalog files themselves (``pipeline-configs/catalog/*.yaml``);
* the whole project (no folders given) also: ``pipeline-configs/events.yaml`` (unknown metrics and ``select:`` targets, a
  ``dataset_published`` filter naming a dataset nothing persists) and
  ``pipeline-configs/alerting.yaml`` (routes named by ``default_routes`` and ``metrics:``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricdag.errors import MetricdagError, Problem, SpecError
from metricdag.spec.catalog_index import CatalogIndex, load_catalog_index
from metricdag.spec.loader import Metric, discover_metric_folders, load_metric, peek_spec


@dataclass(frozen=True)
class ValidationReport:
    metrics: list[Metric] = field(default_factory=list)
    """the metrics without problems"""
    invalid: list[Path] = field(default_factory=list)
    """metric folders with problems"""
    problems: list[Problem] = field(default_factory=list)
    """every problem, sorted by path and line"""

    @property
    def ok(self) -> bool:
        return not self.problems


def catalog_for_validation(project_root: Path) -> CatalogIndex:
    """The local catalog files plus the current environment's on-disk catalog cache (read from
    disk only). When the environment does not load, only the local files (and the message says so)."""
    from metricdag.catalog.client import CatalogClient
    from metricdag.settings import load_environment

    try:
        env = load_environment(project_root=project_root)
        cache = CatalogClient(env.catalog.url, env.path(env.catalog.cache_dir), env.name)
    except MetricdagError as exc:
        index = load_catalog_index(project_root)
        reason = str(exc).splitlines()[0]
        return CatalogIndex(index.columns, (*index.places, f"no catalog cache ({reason})"), index.problems)
    return load_catalog_index(project_root, cache)


def validate_project(
    project_root: Path, folders: list[Path] | None = None, catalog: CatalogIndex | None = None
) -> ValidationReport:
    """Validate ``folders`` (default: every ``metrics/*/`` and the pipeline configs naming them)."""
    whole_project = not folders
    folders = discover_metric_folders(project_root) if whole_project else list(folders or [])
    catalog = catalog if catalog is not None else catalog_for_validation(project_root)
    report = ValidationReport()
    for folder in folders:
        try:
            report.metrics.append(load_metric(folder, project_root, catalog))
        except SpecError as exc:
            report.invalid.append(folder)
            report.problems.extend(exc.problems)
    report.problems.extend(catalog.problems)  # a broken catalog file: the cause of "no catalog entry" above
    if whole_project:
        report.problems.extend(config_problems(project_root, folders))
    report.problems.sort()
    return report


def config_problems(project_root: Path, metric_folders: list[Path]) -> list[Problem]:
    """Problems of events.yaml and alerting.yaml, given the project's metric folders."""
    from metricdag.alerting.routes import ALERTING_FILE, AlertingConfig, route_problems
    from metricdag.events.models import EVENTS_FILE, EventsConfig, target_problems

    selectable: dict[str, set[str] | None] = {}
    persisted: set[str] | None = set()
    for folder in metric_folders:
        spec = peek_spec(folder)
        if spec is None:
            persisted = None  # a metric that does not load may persist anything
        elif persisted is not None:
            persisted |= {p.dataset for p in spec.persist}
        selectable[folder.name] = (
            None
            if spec is None
            else {n.name for _, n in spec.nodes()} | {s.dataset for s in spec.sourcing if not s.from_metric}
        )
    return _file_problems(
        project_root / EVENTS_FILE, EventsConfig,
        lambda events, tree, path: target_problems(events, tree, path, selectable, persisted),
    ) + _file_problems(
        project_root / ALERTING_FILE, AlertingConfig,
        lambda alerting, tree, path: route_problems(alerting, tree, path, set(selectable)),
    )


def _file_problems(path: Path, model: type, check: Callable[[Any, Any, Path], list[Problem]]) -> list[Problem]:
    """A config file's own problems (it does not load) or those ``check`` finds in it; none when it is absent."""
    from metricdag.yamlio import load_model_and_tree

    if not path.is_file():
        return []
    try:
        config, tree = load_model_and_tree(model, path)
    except SpecError as exc:
        return list(exc.problems)
    return check(config, tree, path)
