"""Load and fully validate a metric folder: ``metrics/<name>/metric.yaml``.

Every problem — syntax, unknown key, dangling dataset, cycle, duplicate output, bad cron,
missing entrypoint file, unknown retry policy or alert route, a ``from_metric`` output the other
metric does not review — is collected and raised together as one
:class:`~metricdag.errors.SpecError` whose lines read ``path:line: message``. Given a
:class:`~metricdag.spec.catalog_index.CatalogIndex` (what ``metricdag validate`` passes), every
dataset must also have a catalog entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from metricdag.alerting.routes import ALERTING_FILE, load_alerting_config
from metricdag.errors import MetricdagError, Problem, SpecError
from metricdag.spec.models import MetricSpec, RetryPoliciesFile, RetryPolicySpec, RetryRef
from metricdag.spec.catalog_index import CatalogIndex, load_catalog_index
from metricdag.spec.validate import (
    alert_route_problems,
    catalog_problems,
    measure_problems,
    semantic_problems,
    upstream_problems,
)
from metricdag.yamlio import did_you_mean, load_model, parse_plain, parse_yaml, validation_problems

if TYPE_CHECKING:
    from metricdag.versioning import MetricVersion

METRIC_FILE = "metric.yaml"
RETRY_FILE = Path("pipeline-configs") / "retry-policies.yaml"


@dataclass(frozen=True)
class Metric:
    """A validated metric: its spec, its folder and the named retry policies it may use."""

    spec: MetricSpec
    folder: Path
    retry_policies: dict[str, RetryPolicySpec]

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def version(self) -> "MetricVersion":
        """The metric version (:mod:`metricdag.versioning`), computed once per loaded metric."""
        from metricdag.versioning import metric_version

        return metric_version(self)

    @property
    def path(self) -> Path:
        return self.folder / METRIC_FILE

    def retry_policy(self, ref: RetryRef | None) -> RetryPolicySpec:
        ref = self.spec.retry_policy if ref is None else ref
        return ref if isinstance(ref, RetryPolicySpec) else self.retry_policies[ref]


def load_retry_policies(project_root: Path) -> dict[str, RetryPolicySpec]:
    path = project_root / RETRY_FILE
    if not path.is_file():
        return {}
    return dict(load_model(RetryPoliciesFile, path).policies)


def load_metric(folder: Path, project_root: Path | None = None, catalog: CatalogIndex | None = None) -> Metric:
    """The validated metric in ``folder``; :class:`SpecError` listing every problem otherwise.

    ``catalog``: check every sourced and produced dataset against these catalog entries. Without
    it only review columns are checked, against ``pipeline-configs/catalog/`` (definitions load
    resolves datasets from the catalog cache itself)."""
    folder = folder.resolve()
    path = folder / METRIC_FILE
    if not path.is_file():
        raise SpecError.single(path, 1, "metric.yaml not found")
    root = project_root or folder.parent.parent
    policies = load_retry_policies(root)
    text = path.read_text()
    data: Any = parse_plain(text, path)  # fast; the round-trip parse only to point at a line
    if not isinstance(data, dict):
        raise SpecError.single(path, 1, "expected a mapping at the top of metric.yaml")
    try:
        spec = MetricSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, parse_yaml(text, path), path)) from None
    if spec_problems(spec, None, path, folder, root, policies, catalog):
        raise SpecError(spec_problems(spec, parse_yaml(text, path), path, folder, root, policies, catalog))
    return Metric(spec=spec, folder=folder, retry_policies=policies)


def spec_problems(
    spec: MetricSpec, tree: Any, path: Path, folder: Path, root: Path, policies: dict[str, RetryPolicySpec],
    catalog: CatalogIndex | None,
) -> list[Problem]:
    """Every problem of a field-valid spec. ``tree``: the round-trip tree for line numbers; None
    to find out cheaply whether there is any (every line is then 1)."""
    problems: list[Problem] = semantic_problems(spec, tree, path, folder, set(policies))
    index = catalog if catalog is not None else load_catalog_index(root)
    problems += measure_problems(spec, tree, path, index.columns)
    if catalog is not None:
        problems += catalog_problems(spec, tree, path, catalog)
    upstream = {name: peek_spec(folder.parent / name) for name in spec.upstream_metrics() if name != spec.name}
    problems += upstream_problems(spec, tree, path, upstream)
    routes = alert_route_names(root)
    if routes is not None:
        problems += alert_route_problems(spec, tree, path, routes, str(ALERTING_FILE))
    return problems


def peek_spec(folder: Path) -> MetricSpec | None:
    """The spec of another metric, field-checked only; None when it does not parse (its own
    validation reports why)."""
    path = folder / METRIC_FILE
    try:
        data = parse_plain(path.read_text(), path)
        return MetricSpec.model_validate(data)
    except (OSError, SpecError, ValidationError, TypeError):
        return None


def alert_route_names(project_root: Path) -> set[str] | None:
    """The routes of ``pipeline-configs/alerting.yaml`` (none when it is missing); None when it
    does not load (validating alerting.yaml reports why)."""
    try:
        return set(load_alerting_config(project_root).routes)
    except SpecError:
        return None


def load_metric_named(name: str, project_root: Path) -> Metric:
    """The metric ``metrics/<name>/`` of the project; an error naming the known metrics otherwise."""
    folders = discover_metric_folders(project_root)
    by_name = {f.name: f for f in folders}
    if name not in by_name:
        known = ", ".join(sorted(by_name)) or "none"
        raise MetricdagError(f"no metric {name!r} under {project_root / 'metrics'}{did_you_mean(name, by_name)} (metrics: {known})")
    return load_metric(by_name[name], project_root)


def discover_metric_folders(project_root: Path) -> list[Path]:
    return sorted(p.parent for p in (project_root / "metrics").glob(f"*/{METRIC_FILE}"))
