"""``MetricComponent``: one metric folder (its ``metric.yaml`` and nodes) as a Dagster component.

The component builds the metric's assets, checks, jobs, schedule and sensors and no resources,
so several metrics merge into one set of definitions; :func:`metric_location` is a metric's own
code location, with the environment's resources bound once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from metricdag.factory.build import build_metric_definitions, metric_definitions
from metricdag.settings import Environment, cached_environment, environment_name, find_project_root
from metricdag.spec.loader import METRIC_FILE, load_metric


class MetricComponent(dg.Component, dg.Resolvable, dg.Model):
    """A metric declared in a metric.yaml: sourcing, preprocessing, metric calculation,
    review and persistence as Dagster assets, with its daily job, schedule and sensors.
    Errors in the metric name their ``path:line``."""

    path: str = Field(
        default=".",
        description="The metric folder (holding metric.yaml), or its metric.yaml; relative to this component's folder.",
    )

    def metric_folder(self, base: Path) -> Path:
        target = (base / self.path).resolve()
        return target.parent if target.name == METRIC_FILE else target

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        folder = self.metric_folder(context.path)
        env = project_environment(folder)
        return metric_definitions(load_metric(folder, env.project_root), env)


def project_environment(folder: Path) -> Environment:
    """The environment (``METRICDAG_ENV``) of the project holding ``folder``."""
    return cached_environment(environment_name(), str(find_project_root(folder)))


def metric_location(folder: Path | str, env: Environment | None = None) -> dg.Definitions:
    """The code location of the metric in ``folder`` (what ``metrics/<name>/definitions.py``
    loads): its definitions, the environment's resources and the metric's executor."""
    return build_metric_definitions(folder, env or project_environment(Path(folder).resolve()))
