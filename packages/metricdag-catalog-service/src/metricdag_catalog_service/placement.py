"""Where published coordinates may point, per environment, when the service knows the
environments (``--environments-from PROJECT_ROOT``): an object-store prefix under the
environment's object-store base (or ``object_store.allowed_prefixes``), a Legend lambda URL under
its ``legend.base_url`` (or ``legend.allowed_urls``). Coordinates for an environment the service
does not know are stored as sent; the client side checks them again before every read
(:mod:`metricdag.sourcing.object_store`, :class:`metricdag.resources.LegendResource`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from metricdag.auth.transport import first_base_covering
from metricdag.catalog.models import DatasetDefinition, LegendLambdaCoordinates, ObjectStoreCoordinates
from metricdag.io.objectstore import is_under_prefix


@dataclass(frozen=True)
class EnvironmentBases:
    object_store: tuple[str, ...]
    legend: tuple[str, ...]


Placement = Mapping[str, EnvironmentBases]


def bases_from_environments(project_root: Path) -> dict[str, EnvironmentBases]:
    """The bases of every environment file under ``project_root/pipeline-configs/environments``."""
    from metricdag.settings import load_environment

    out = {}
    for path in sorted((Path(project_root) / "pipeline-configs" / "environments").glob("*.yaml")):
        env = load_environment(path.stem, Path(project_root))
        out[env.name] = EnvironmentBases(
            (env.object_store_uri, *env.object_store_allowed_prefixes), tuple(env.legend.bases if env.legend else ())
        )
    return out


def placement_problems(defn: DatasetDefinition, placement: Placement) -> list[str]:
    """Why some of ``defn``'s coordinates point outside their environment (empty when none do)."""
    problems = []
    for env_name, coords in sorted(defn.coordinates.items()):
        bases = placement.get(env_name)
        if bases is None:
            continue
        if isinstance(coords, ObjectStoreCoordinates) and "://" in coords.prefix:
            if not any(is_under_prefix(coords.prefix, base) for base in bases.object_store):
                problems.append(
                    f"coordinates.{env_name}.prefix {coords.prefix[:300]!r} is outside environment {env_name!r}'s "
                    f"object store ({', '.join(bases.object_store)})"
                )
        if isinstance(coords, LegendLambdaCoordinates):
            absolute = coords.url.startswith(("http://", "https://"))
            if (absolute and first_base_covering(coords.url, bases.legend) is None) or not bases.legend:
                problems.append(
                    f"coordinates.{env_name}.url {coords.url[:300]!r} is not under environment {env_name!r}'s "
                    f"Legend base URL ({', '.join(bases.legend) or 'none configured'})"
                )
    return problems
