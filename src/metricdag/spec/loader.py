"""Load and fully validate a metric folder: ``metrics/<name>/metric.yaml``.

Every problem — syntax, unknown key, dangling dataset, cycle, duplicate output, bad cron,
missing entrypoint file, unknown retry policy — is collected and raised together as one
:class:`~metricdag.errors.SpecError` whose lines read ``path:line: message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from metricdag.errors import Problem, SpecError
from metricdag.spec.models import MetricSpec, RetryPoliciesFile, RetryPolicySpec, RetryRef
from metricdag.spec.validate import measure_problems, semantic_problems
from metricdag.yamlio import load_model, parse_yaml, to_plain, validation_problems

METRIC_FILE = "metric.yaml"
RETRY_FILE = Path("pipeline-configs") / "retry-policies.yaml"
CATALOG_DIR = Path("pipeline-configs") / "catalog"


@dataclass(frozen=True)
class Metric:
    """A validated metric: its spec, its folder and the named retry policies it may use."""

    spec: MetricSpec
    folder: Path
    retry_policies: dict[str, RetryPolicySpec]

    @property
    def name(self) -> str:
        return self.spec.name

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


def load_metric(folder: Path, project_root: Path | None = None) -> Metric:
    folder = folder.resolve()
    path = folder / METRIC_FILE
    if not path.is_file():
        raise SpecError.single(path, 1, "metric.yaml not found")
    root = project_root or folder.parent.parent
    policies = load_retry_policies(root)
    tree = parse_yaml(path.read_text(), path)
    data: Any = to_plain(tree)
    if not isinstance(data, dict):
        raise SpecError.single(path, 1, "expected a mapping at the top of metric.yaml")
    try:
        spec = MetricSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, tree, path)) from None
    problems: list[Problem] = semantic_problems(spec, tree, path, folder, set(policies))
    problems += measure_problems(spec, tree, path, catalog_columns(root))
    if problems:
        raise SpecError(problems)
    return Metric(spec=spec, folder=folder, retry_policies=policies)


def catalog_columns(project_root: Path) -> dict[str, dict[str, str]]:
    """dataset -> column -> type, from the catalog entries kept in ``pipeline-configs/catalog/``
    (every version's columns). Empty when the folder is missing or broken: its own commands
    report its problems, and review columns are then checked at run time."""
    from metricdag.catalog.seed import load_seed_files
    from metricdag.errors import MetricdagError

    folder = project_root / CATALOG_DIR
    if not folder.is_dir():
        return {}
    try:
        definitions = load_seed_files(folder)
    except MetricdagError:
        return {}
    out: dict[str, dict[str, str]] = {}
    for defn in definitions:
        for column in defn.schema_.columns:
            out.setdefault(defn.name, {}).setdefault(column.name, column.type)
    return out


def discover_metric_folders(project_root: Path) -> list[Path]:
    return sorted(p.parent for p in (project_root / "metrics").glob(f"*/{METRIC_FILE}"))
