"""Which metrics a branch changes: metric versions at a base commit against the working tree.

The base commit's ``metrics/`` and ``pipeline-configs/`` are extracted with ``git archive`` into a
temporary folder (the repository and its worktrees are not touched), and every metric's
:func:`~metricdag.versioning.metric_version` is computed on both sides with the same code.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from metricdag.errors import MetricdagError, SpecError
from metricdag.spec.loader import discover_metric_folders, load_metric
from metricdag.versioning import metric_version

TREES = ("metrics", "pipeline-configs")


@dataclass(frozen=True)
class VersionChange:
    metric: str
    base: str | None
    """The version at the base commit; None when the metric is new (or did not load there)."""
    head: str

    @property
    def is_new(self) -> bool:
        return self.base is None


def versions(project_root: Path) -> dict[str, str]:
    """metric name -> version for every metric of a project that loads (others are left out)."""
    out = {}
    for folder in discover_metric_folders(project_root):
        try:
            out[folder.name] = metric_version(load_metric(folder, project_root)).version
        except SpecError:
            continue
    return out


def _git(repo: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True)
    if proc.returncode != 0:
        raise MetricdagError(f"git {' '.join(args)} failed in {repo}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def extract_tree(repo: Path, ref: str, into: Path) -> Path:
    """``metrics/`` and ``pipeline-configs/`` of commit ``ref`` under ``into`` (a project root)."""
    prefix = _git(repo, "rev-parse", "--show-prefix").decode().strip()  # the project may be a subfolder
    tree = f"{ref}:{prefix}" if prefix else ref
    present = [t for t in TREES if _git(repo, "ls-tree", "--name-only", tree, t).strip()]
    if present:
        data = _git(repo, "archive", "--format=tar", tree, *present)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(into, filter="data")
    return into


def changed_metrics(repo: Path, base_ref: str, project_root: Path | None = None) -> list[VersionChange]:
    """Metrics of the working tree whose version differs from (or is absent at) ``base_ref``."""
    root = project_root or repo
    head = versions(root)
    with tempfile.TemporaryDirectory(prefix="metricdag-base-") as tmp:
        base = versions(extract_tree(repo, base_ref, Path(tmp)))
    return [VersionChange(name, base.get(name), version) for name, version in sorted(head.items()) if base.get(name) != version]
