"""The catalog entries a metric is checked against, from local files only (no network).

Two places, merged: the entries kept in ``pipeline-configs/catalog/*.yaml`` (what ``metricdag
seed`` publishes) and the environment's on-disk catalog cache (what ``metricdag catalog
refresh`` fills and definitions load reads). A dataset in neither fails at run time, so
``metricdag validate`` reports it, naming both places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from metricdag.errors import Problem, SpecError

if TYPE_CHECKING:
    from metricdag.catalog.client import CatalogClient

CATALOG_DIR = Path("pipeline-configs") / "catalog"


@dataclass(frozen=True)
class CatalogIndex:
    """dataset -> column -> catalog type, for every dataset either place knows."""

    columns: Mapping[str, Mapping[str, str]]
    places: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return sorted(self.columns)

    def __contains__(self, dataset: object) -> bool:
        return dataset in self.columns

    def where(self) -> str:
        """Which entries were checked, for messages."""
        return " and ".join(self.places) if self.places else "no catalog entries (no catalog folder, no catalog cache)"


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def local_catalog_columns(project_root: Path) -> tuple[dict[str, dict[str, str]], list[Problem]]:
    """dataset -> column -> type from ``pipeline-configs/catalog/*.yaml`` (every version's
    columns), and the problems of the files that do not load (each file on its own, so one
    broken file does not hide the others' datasets)."""
    from metricdag.catalog.seed import load_definitions

    out: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    folder = project_root / CATALOG_DIR
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            definitions = load_definitions([path])
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        for defn in definitions:
            for column in defn.schema_.columns:
                out.setdefault(defn.name, {}).setdefault(column.name, column.type)
    return out, problems


def cached_catalog_columns(cache: CatalogClient) -> dict[str, dict[str, str]]:
    """dataset -> column -> type from every dataset file in the client's on-disk cache
    (``<name>.json`` and ``<name>@<version>.json``); never the network."""
    from metricdag.catalog.client import CatalogError

    out: dict[str, dict[str, str]] = {}
    folder = cache.cache_dir / cache.environment
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        name, _, version = path.stem.partition("@")
        try:
            dataset = cache.cached(name, version or None)
        except CatalogError:  # a stray file whose name is no dataset name or version: not an entry
            continue
        if dataset is None:
            continue
        for column in dataset.schema_.columns:
            out.setdefault(dataset.name, {}).setdefault(column.name, column.type)
    return out


def load_catalog_index(project_root: Path, cache: CatalogClient | None = None) -> CatalogIndex:
    """The local catalog files of ``project_root`` plus, when given, ``cache``'s on-disk entries."""
    columns, problems = local_catalog_columns(project_root)
    places = [f"{CATALOG_DIR}/*.yaml"]
    if cache is not None:
        for name, cols in cached_catalog_columns(cache).items():
            merged = columns.setdefault(name, {})
            for column, type_ in cols.items():
                merged.setdefault(column, type_)
        places.append(f"the catalog cache {_shown(cache.cache_dir / cache.environment, project_root)}")
    return CatalogIndex(columns=columns, places=tuple(places), problems=tuple(problems))
