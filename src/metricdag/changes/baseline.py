"""On the local stack: publish what the base commit's definition computes, to diff a branch against.

A merge request's pipeline has no production data. There, the published rows ``metricdag diff``
compares with are made first: the base commit's ``metrics/`` and ``pipeline-configs/`` are
extracted into a temporary folder and each changed metric (after the metrics it reads from) is
materialized and persisted for the range into the local stack, exactly as ``metricdag run`` does.
Refused outside the local environment: nothing is ever published anywhere else.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import dagster as dg

from metricdag.changes.selection import extract_tree
from metricdag.errors import MetricdagError
from metricdag.day_run import materialize_metric, run_order
from metricdag.settings import Environment, load_environment
from metricdag.spec.loader import discover_metric_folders, peek_spec


def with_upstreams(project_root: Path, metrics: Iterable[str]) -> dict[str, set[str]]:
    """``metrics`` and every metric they read from (transitively), each with its upstreams."""
    folders = {f.name: f for f in discover_metric_folders(project_root)}
    out: dict[str, set[str]] = {}
    todo = [m for m in metrics if m in folders]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        spec = peek_spec(folders[name])
        out[name] = set(spec.upstream_metrics()) if spec else set()
        todo += [u for u in out[name] if u in folders]
    return out


def publish_base(
    env: Environment, repo: Path, base_ref: str, metrics: list[str], partitions: list[str],
    log: Callable[[str], None] = print,
) -> None:
    if env.localstack is None:
        raise MetricdagError(f"--publish-base runs only on the local stack, not in environment {env.name!r}")
    # the base tree must use this project's stack state, not a .local of its own
    os.environ.setdefault("METRICDAG_LOCAL_DIR", str(env.path(env.localstack.state_dir)))
    with tempfile.TemporaryDirectory(prefix="metricdag-base-") as tmp:
        root = extract_tree(repo, base_ref, Path(tmp))
        base_env = load_environment(env.name, root)
        upstreams = with_upstreams(root, metrics)
        instance = dg.DagsterInstance.ephemeral()
        for name in run_order(upstreams):
            for day in partitions:
                log(f"{name} {day}: publishing the definition of {base_ref} on the local stack")
                ok, summary = materialize_metric(root / "metrics" / name, base_env, day, instance)
                if not ok:
                    failed = ", ".join(f"{r.asset} ({r.status})" for r in summary if r.status not in ("ok", "passed"))
                    raise MetricdagError(f"{name} {day}: the definition of {base_ref} failed: {failed}")
