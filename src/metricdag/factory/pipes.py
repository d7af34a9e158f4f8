"""A Java or Scala node's step through Dagster Pipes: what the program reports becomes the step's events.

The node's program gets the Pipes bootstrap variables (context in a temporary file, messages
into another, :class:`dagster.PipesTempFileContextInjector` / :class:`dagster.PipesTempFileMessageReader`)
and, in the context's extras, ``outputs``: each output dataset's asset key, so that
``Node.reportOutput(dataset, ...)`` names the right asset. Its ``log`` lines go to the run's event
log as they arrive; after it exited, each reported materialization's metadata is put on that
output's ``Output``, and each reported check result is yielded as the check declared under the
output's ``checks:`` in metric.yaml (a declared check it did not report fails, saying so).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dagster as dg

from metricdag.nodes.errors import NodeError

NOT_REPORTED = "the node's program did not report this check"


def check_specs(keys: Mapping[str, dg.AssetKey], checks: Mapping[str, list[str]], node: str) -> list[dg.AssetCheckSpec]:
    """The asset checks a JVM node's program reports: ``checks`` is output dataset -> check names."""
    return [
        dg.AssetCheckSpec(name, asset=keys[dataset], description=f"Reported by node `{node}`'s program (Dagster Pipes).")
        for dataset, names in checks.items()
        for name in names
    ]


@contextmanager
def jvm_pipes(context: dg.AssetExecutionContext, keys: Mapping[str, dg.AssetKey]) -> Iterator[dg.PipesSession]:
    """A Pipes session around one run of the node's program (pass ``get_bootstrap_env_vars()`` to it)."""
    extras = {"outputs": {dataset: key.to_user_string() for dataset, key in keys.items()}}
    with dg.open_pipes_session(
        context=context,
        context_injector=dg.PipesTempFileContextInjector(),
        message_reader=dg.PipesTempFileMessageReader(),
        extras=extras,
    ) as session:
        yield session


def reported(
    node: str, results, keys: Mapping[str, dg.AssetKey], specs: list[dg.AssetCheckSpec]
) -> tuple[dict[str, dict], list[dg.AssetCheckResult]]:
    """Output dataset -> the metadata its materializations were reported with, and one result per
    declared check (the reported one, else a failed one). A report on an asset that is not one of
    the node's outputs, or of an undeclared check, is a NodeError naming it."""
    dataset_of = {key: dataset for dataset, key in keys.items()}
    declared = {spec.key: spec for spec in specs}
    metadata: dict[str, dict] = {dataset: {} for dataset in keys}
    checks: dict[dg.AssetCheckKey, dg.AssetCheckResult] = {}
    for result in results:
        if isinstance(result, dg.MaterializeResult):
            if result.asset_key not in dataset_of:
                raise NodeError(f"node {node!r} reported a materialization of {result.asset_key.to_user_string()!r}, "
                                f"which is not one of its outputs ({', '.join(keys)})")
            metadata[dataset_of[result.asset_key]].update(result.metadata or {})
        elif isinstance(result, dg.AssetCheckResult):
            key = dg.AssetCheckKey(result.asset_key, result.check_name)
            if key not in declared:
                dataset = dataset_of.get(result.asset_key, result.asset_key.to_user_string())
                raise NodeError(f"node {node!r} reported check {result.check_name!r} on {dataset!r}, which is not "
                                f"declared: list it under that output's checks: in metric.yaml")
            checks[key] = result
    for key, spec in declared.items():
        if key not in checks:
            checks[key] = dg.AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=False,
                                              severity=dg.AssetCheckSeverity.WARN, description=NOT_REPORTED)
    return metadata, list(checks.values())
