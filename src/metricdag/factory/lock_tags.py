"""Catalog version locks: every run reads exactly one version of each logical dataset.

The lock is a set of run tags, ``metricdag.lock/<dataset> = <version>``, visible on the run
in the UI. Once a run's lock covers every dataset of its metric it is also recorded in the
catalog's lock store (``POST /locks``, idempotent), for audit outside Dagster. Schedules and ``metricdag run`` resolve all of a metric's datasets when they create
the run. A run started another way (the UI's materialize button) locks each dataset the first
time a step resolves it. Retries and re-executions read the lock of their *root* run
(``dagster/root_run_id``), so they see the same versions even after newer ones are published.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from metricdag.catalog.client import CatalogClient, CatalogError
from metricdag.catalog.models import ResolvedDataset

LOCK_PREFIX = "metricdag.lock/"
ROOT_RUN_TAG = "dagster/root_run_id"


def lock_tag(dataset: str) -> str:
    return LOCK_PREFIX + dataset


def locks_in(tags: dict[str, str]) -> dict[str, str]:
    return {k[len(LOCK_PREFIX) :]: v for k, v in tags.items() if k.startswith(LOCK_PREFIX)}


def resolve_lock_tags(client: CatalogClient, datasets: Iterable[str]) -> dict[str, str]:
    """Run tags locking each dataset to its current catalog version (used when a run is created)."""
    return {lock_tag(name): client.resolve(name).version for name in sorted(set(datasets))}


def _root_run_id(context: dg.AssetExecutionContext) -> str:
    """The first run of a chain of retries/re-executions (the run itself when it is the first)."""
    run = context.run
    return run.root_run_id or run.tags.get(ROOT_RUN_TAG) or run.run_id


def run_chain(context: dg.AssetExecutionContext) -> list[str]:
    """This run's id, then the ids of the runs it re-executes (parent first, root last)."""
    chain = [context.run.run_id]
    parent = context.run.parent_run_id
    while parent and parent not in chain:
        chain.append(parent)
        run = context.instance.get_run_by_id(parent)
        parent = run.parent_run_id if run else None
    return chain


def _current_tags(context: dg.AssetExecutionContext, run_id: str) -> dict[str, str]:
    run = context.instance.get_run_by_id(run_id)
    return dict(run.tags) if run else {}


def run_locks(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The run's lock as it stands now (steps before this one may have added to it)."""
    return locks_in(_current_tags(context, context.run.run_id))


def resolve_locked(
    context: dg.AssetExecutionContext, client: CatalogClient, dataset: str, metric: str, datasets: list[str]
) -> ResolvedDataset:
    """The dataset at the version this run (or its root run) is locked to; locks it if new."""
    resolved = _resolve_locked(context, client, dataset)
    _record_when_complete(context, client, metric, datasets)
    return resolved


def _record_when_complete(context: dg.AssetExecutionContext, client: CatalogClient, metric: str, datasets: list[str]) -> None:
    tags = _current_tags(context, context.run.run_id)
    locks = locks_in(tags)
    if not set(datasets) <= set(locks):
        return
    root_id = _root_run_id(context)
    try:
        client.record_lock(root_id, metric, {name: locks[name] for name in datasets})
    except CatalogError as exc:  # the run tags remain the lock; the catalog copy is for audit
        context.log.warning(f"catalog: could not record the version lock of run {root_id}: {exc}")


def _resolve_locked(context: dg.AssetExecutionContext, client: CatalogClient, dataset: str) -> ResolvedDataset:
    run_id = context.run.run_id
    tags = _current_tags(context, run_id)
    version = tags.get(lock_tag(dataset))
    root_id = _root_run_id(context)
    if version is None and root_id != run_id:
        version = _current_tags(context, root_id).get(lock_tag(dataset))
    if version is not None:
        resolved = client.resolve(dataset, version)
        if lock_tag(dataset) not in tags:
            context.instance.add_run_tags(run_id, {lock_tag(dataset): version})
        context.log.info(f"catalog: {dataset} locked at version {version}")
        return resolved
    resolved = client.resolve(dataset)
    context.instance.add_run_tags(run_id, {lock_tag(dataset): resolved.version})
    context.log.info(f"catalog: {dataset} resolved and locked at version {resolved.version}")
    return resolved
