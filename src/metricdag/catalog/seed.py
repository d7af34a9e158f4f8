"""Seed the catalog from ``pipeline-configs/catalog/*.yaml`` (the local stack does this on start).

Each file holds ``datasets: [<DatasetDefinition>, ...]``. Seeding is idempotent: a version
that is already published is left as it is (versions are immutable).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


from metricdag.catalog.client import CatalogClient
from metricdag.catalog.models import DatasetDefinition, canonical_version
from metricdag.errors import ConfigError, Problem, SpecError
from metricdag.yamlio import line_of, parse_yaml, load_model
from metricdag.schema import StrictModel

CATALOG_SEED_DIR = Path("pipeline-configs") / "catalog"
"""Where a project keeps the catalog entries it publishes (one YAML file per metric)."""


class CatalogSeedFile(StrictModel):
    """One seed file."""


    datasets: list[DatasetDefinition]


def _entry_line(path: Path, index: int) -> int:
    """Line of ``datasets[index]`` in a file that already loaded cleanly."""
    return line_of(parse_yaml(path.read_text(), path), ("datasets", index))


def load_seed_files(folder: Path) -> list[DatasetDefinition]:
    """Every definition in ``folder/*.yaml`` (files in name order); see :func:`load_definitions`."""
    if not folder.is_dir():
        raise ConfigError(f"catalog seed folder {folder} does not exist")
    return load_definitions(sorted(folder.glob("*.yaml")))


def load_definitions(paths: Iterable[Path]) -> list[DatasetDefinition]:
    """Every definition in the files ``paths`` (``datasets: [...]`` each), in order.

    Problems in all files are reported together as one :class:`SpecError` (``path:line: message``);
    the same (name, version) defined twice is a problem naming both places.
    """
    problems: list[Problem] = []
    seen: dict[tuple[str, str], tuple[Path, int]] = {}
    out: list[DatasetDefinition] = []
    for path in paths:
        try:
            seed = load_model(CatalogSeedFile, path)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        for index, defn in enumerate(seed.datasets):
            key = (defn.name, canonical_version(defn.version))
            if key in seen:
                first_path, first_index = seen[key]
                problems.append(
                    Problem(
                        str(path),
                        _entry_line(path, index),
                        f"dataset {defn.name!r} version {defn.version!r} is also defined at "
                        f"{first_path}:{_entry_line(first_path, first_index)}",
                    )
                )
                continue
            seen[key] = (path, index)
            out.append(defn)
    if problems:
        raise SpecError(problems)
    return out


def seed_catalog(client: CatalogClient, definitions: Iterable[DatasetDefinition]) -> tuple[int, int]:
    """Publish each definition unless present; returns (published now, already present)."""
    published = present = 0
    for defn in definitions:
        if client.publish_if_absent(defn):
            published += 1
        else:
            present += 1
    return published, present
