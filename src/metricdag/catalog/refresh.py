"""``metricdag catalog refresh``: fill the on-disk catalog cache that definitions load reads,
with the entries of every dataset a metric sources or produces (the one network step; the
deploy job runs it into the build, so the code-location image needs no catalog call to load).
"""

from __future__ import annotations

import logging

from metricdag.catalog.client import CatalogClient
from metricdag.errors import SpecError
from metricdag.settings import Environment
from metricdag.spec.loader import discover_metric_folders, load_metric

log = logging.getLogger(__name__)


def referenced_datasets(env: Environment) -> list[str]:
    """The datasets of every metric that loads; a broken metric.yaml is skipped with a warning
    (it fails alone, where it is run or loaded)."""
    names: set[str] = set()
    for folder in discover_metric_folders(env.project_root):
        try:
            spec = load_metric(folder, env.project_root).spec
        except SpecError as exc:
            log.warning("warning: not refreshing the catalog cache for %s:\n%s", folder.name, exc)
            continue
        names |= {s.dataset for s in spec.sourcing}
        names |= {o.dataset for _, n in spec.nodes() for o in n.outputs}
    return sorted(names)


def refresh_cache(env: Environment, client: CatalogClient | None = None) -> list[str]:
    """Fill the on-disk catalog cache that definitions load reads (the one network step)."""
    names = referenced_datasets(env)
    (client or CatalogClient.for_environment(env)).refresh(names)
    return names
