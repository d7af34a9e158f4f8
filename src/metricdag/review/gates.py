"""Backtested gates: a blocking check that is new or changed must have been backtested before it blocks.

The rule (``review.require_backtest`` in the environment file; prod: on, local: off): a check
with ``severity: error`` whose definition (:func:`~metricdag.review.repository.check_hash`) was
never run over some of the dataset's accepted partitions - it is new or changed since they were
accepted - runs as ``warn`` until ``metricdag review backtest`` recorded a backtest of that
definition. A dataset without accepted history (a brand-new metric) cannot be backtested, so
its checks block as declared. ``metricdag validate --strict`` applies the same rule and also
rejects a backtest that fired on more than ``review.max_fire_share`` of its partitions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metricdag.audit.models import BacktestRecord
from metricdag.audit.store import AuditStore
from metricdag.errors import Problem
from metricdag.review.checks import AnyCheck, check_names
from metricdag.review.repository import check_hash
from metricdag.settings import Environment
from metricdag.spec.loader import Metric
from metricdag.yamlio import line_of


def latest_backtest(store: AuditStore, environment: str, metric: str, dataset: str, definition: str) -> BacktestRecord | None:
    found = [b for b in store.backtests(environment, metric, dataset) if b.check_hash == definition]
    return found[-1] if found else None


def backtest_command(metric: str, dataset: str, name: str) -> str:
    return f"metricdag review backtest {metric} --dataset {dataset} --check {name}"


def unbacktested(env: Environment, store: AuditStore | None, metric: str, dataset: str, check: AnyCheck) -> int:
    """How many accepted partitions this blocking check's definition was never run over and has
    no backtest for (0: it may block)."""
    if check.severity != "error" or store is None:
        return 0
    definition = check_hash(check)
    if latest_backtest(store, env.name, metric, dataset, definition) is not None:
        return 0
    return store.accepted_unevaluated(env.name, metric, dataset, definition)


def demotion(env: Environment, store: AuditStore | None, metric: str, dataset: str, name: str, check: AnyCheck) -> str | None:
    """Why this run treats the blocking check as ``warn`` (None: it blocks as declared)."""
    if not env.review.require_backtest:
        return None
    untested = unbacktested(env, store, metric, dataset, check)
    if not untested:
        return None
    return (f"runs as warn until backtested: blocking check {name!r} of {dataset!r} is new or changed (definition "
            f"{check_hash(check)[:8]}) and was never run over {untested} accepted partition(s); "
            f"run `{backtest_command(metric, dataset, name)}`")


def strict_problems(metric: Metric, tree: Any, env: Environment, store: AuditStore) -> list[Problem]:
    """``validate --strict``: each blocking check that needs a backtest and has none, or whose
    backtest fired on more than the allowed share of its partitions, at the check's line."""
    problems = []
    path = str(metric.path)
    for i, review in enumerate(metric.spec.review):
        for j, (name, check) in enumerate(check_names(review)):
            if check.severity != "error":
                continue
            line = line_of(tree, ("review", i, "checks", j))
            where = f"blocking check {name!r} of {review.dataset!r}"
            record = latest_backtest(store, env.name, metric.name, review.dataset, check_hash(check))
            if record is None:
                untested = store.accepted_unevaluated(env.name, metric.name, review.dataset, check_hash(check))
                if untested:
                    problems.append(Problem(path, line, f"{where} has no backtest of its definition over the "
                                            f"{untested} accepted partition(s) it never ran on: run "
                                            f"`{backtest_command(metric.name, review.dataset, name)}`"))
                continue
            if record.partitions == 0:
                problems.append(Problem(path, line, f"{where}: its backtest covered no partition with data"))
            elif record.fired / record.partitions > env.review.max_fire_share:
                problems.append(Problem(
                    path, line, f"{where}: its backtest fired on {record.fired} of {record.partitions} partition(s) "
                    f"({record.fired / record.partitions:.0%}), more than review.max_fire_share "
                    f"{env.review.max_fire_share:.0%} in the {env.name} environment"))
    return problems


def project_strict_problems(metrics: list[Metric], project_root: Path) -> list[Problem]:
    """``validate --strict`` over the valid metrics, against the current environment's repository."""
    from metricdag.audit.store import audit_store_for
    from metricdag.settings import load_environment
    from metricdag.yamlio import parse_yaml

    env = load_environment(project_root=project_root)
    store = audit_store_for(env)
    if store is None:
        return [Problem(f"pipeline-configs/environments/{env.name}.yaml", 1,
                        "--strict needs the metrics repository, but this environment configures no audit store (audit: url)")]
    problems = []
    for metric in metrics:
        tree = parse_yaml(metric.path.read_text(), metric.path)
        problems += strict_problems(metric, tree, env, store)
    return problems
