"""Run the working tree's definition of a metric over a date range into a scratch object store.

Every layer up to review runs in process (the metric's own job, the persisted layer left out),
one partition after the other, oldest first, with the Parquet IO manager pointed at
``<object store>/scratch/diff/<id>/``: production files and other runs are never written, nothing
is loaded into Snowflake, and the scratch prefix is deleted afterwards, also on failure.

Read-only copies go into the scratch prefix first, so the definition sees what production would:
another metric's reviewed output it sources (``from_metric``), and the accepted review history
before the range that variance checks compare with.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pandas as pd

from metricdag.catalog.client import CatalogClient
from metricdag.errors import MetricdagError
from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.assets import asset_key
from metricdag.factory.lock_tags import resolve_lock_tags
from metricdag.io.io_manager import ParquetIOManager
from metricdag.io.resource import object_store_resource
from metricdag.io.layout import current_file, partition_prefix
from metricdag.io.objectstore import ObjectStore, env_store, join_uri, local_path
from metricdag.io.parquet import from_parquet_bytes
from metricdag.settings import Environment
from metricdag.signals import sigterm_as_exit
from metricdag.spec.loader import Metric
from metricdag.spec.models import VarianceCheck
from metricdag.spec.layers import REVIEW, SOURCING

DIFF_TAG = "metricdag/diff"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the diff prints its own summary


def days_between(start: date, end: date) -> list[str]:
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def new_scratch_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Scratch:
    """Where one diff's files live: ``<base>/scratch/diff/<id>`` with the usual layout below it."""

    env: Environment
    id: str

    @property
    def base_uri(self) -> str:
        return join_uri(self.env.object_store_uri, "scratch", "diff", self.id)

    def store(self) -> ObjectStore:
        return env_store(self.env, self.base_uri)

    def resources(self) -> dict[str, object]:
        """The object store (and the IO manager over it) pointed at the scratch area: every reader
        and writer of asset files in the run, checks included, uses it."""
        object_store = object_store_resource(self.env, self.base_uri)
        return {"object_store": object_store,
                "io_manager": ParquetIOManager(object_store=object_store, project_root=str(self.env.project_root))}

    def prefix(self, path: list[str], partition: str) -> str:
        return partition_prefix(self.base_uri, self.env.name, path, partition)

    def production_prefix(self, path: list[str], partition: str) -> str:
        return partition_prefix(self.env.object_store_uri, self.env.name, path, partition)

    def remove(self) -> None:
        store = self.store()
        for obj in store.list(self.base_uri):
            store.delete(obj.uri)
        if self.base_uri.startswith("file://"):  # and the empty folders left behind
            folder = local_path(self.base_uri)
            shutil.rmtree(folder, ignore_errors=True)
            for parent in (folder.parent, folder.parent.parent):  # scratch/diff, scratch: when empty
                with contextlib.suppress(OSError):
                    parent.rmdir()


@contextlib.contextmanager
def scratch_area(env: Environment, scratch_id: str | None = None) -> Iterator[Scratch]:
    """A fresh scratch area, removed afterwards: after a pass, a failure, Ctrl-C or SIGTERM."""
    scratch = Scratch(env, scratch_id or new_scratch_id())
    with sigterm_as_exit():
        try:
            yield scratch
        finally:
            scratch.remove()


@dataclass
class PartitionRun:
    partition: str
    success: bool
    run_id: str
    failures: list[str] = field(default_factory=list)
    """Failed steps and failed blocking checks, one line each."""


def reviewed_keys(metric: Metric) -> list[dg.AssetKey]:
    """Every asset of the metric up to and including review (never the persisted layer)."""
    spec = metric.spec
    keys = [asset_key(metric.name, SOURCING, s.dataset) for s in spec.sourcing if not s.from_metric]
    keys += [asset_key(metric.name, layer, out) for layer, node in spec.nodes() for out in node.output_names]
    keys += [asset_key(metric.name, REVIEW, r) for r in sorted({r.dataset for r in spec.review})]
    return keys


def _copy_current(scratch: Scratch, path: list[str], partition: str) -> bool:
    """Copy production's file of an asset partition into the scratch layout (read-only on production)."""
    source_store = env_store(scratch.env)
    found = current_file(source_store, scratch.production_prefix(path, partition))
    if found is None:
        return False
    name = found.uri.rsplit("/", 1)[-1]
    scratch.store().put_bytes(join_uri(scratch.prefix(path, partition), name), source_store.get_bytes(found.uri))
    return True


def prepare_inputs(scratch: Scratch, metric: Metric, partitions: list[str]) -> None:
    """Other metrics' reviewed outputs for the range, and the accepted history variance checks read."""
    for source in metric.spec.sourcing:
        if source.from_metric:
            for day in partitions:
                _copy_current(scratch, [source.from_metric, REVIEW, source.dataset], day)
    first = date.fromisoformat(partitions[0])
    for review in metric.spec.review:
        window = max((c.window for c in review.checks if isinstance(c, VarianceCheck)), default=0)
        for back in range(1, window + 1):
            _copy_current(scratch, [metric.name, REVIEW, review.dataset], (first - timedelta(days=back)).isoformat())


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            message = (error.message if error else "failed").strip().splitlines()
            lines.append(f"step {event.step_key} failed: {message[0] if message else 'failed'}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR:
                text = ev.description or ""
                lines.append(f"review check {ev.check_name} on {ev.asset_key.to_user_string()} failed" + (f": {text}" if text else ""))
    return lines


def run_range(scratch: Scratch, metric: Metric, partitions: list[str], log=print) -> list[PartitionRun]:
    """The metric's job for each partition, oldest first, into the scratch area; stops at the first failure."""
    env = scratch.env
    defs = build_metric_definitions(metric.folder, env)
    resources = {**defs.resources, **scratch.resources()}
    scratch_defs = dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs, resources=resources)
    job = scratch_defs.resolve_job_def(job_name(metric.name))
    client = CatalogClient.for_environment(env)
    # one lock for the whole range: every partition reads the same catalog versions
    tags = {**resolve_lock_tags(client, metric.spec.catalog_datasets()), DIFF_TAG: scratch.id}
    prepare_inputs(scratch, metric, partitions)
    instance = dg.DagsterInstance.ephemeral()  # the diff's runs never enter the project's run history
    runs = []
    for day in partitions:
        log(f"{metric.name} {day}: running the working tree's definition (scratch {scratch.id})")
        result = job.execute_in_process(
            run_config=QUIET, partition_key=day, instance=instance, raise_on_error=False, tags=tags,
            asset_selection=reviewed_keys(metric),
        )
        run = PartitionRun(day, result.success, result.run_id, _failures(result))
        if run.success and run.failures:  # a blocking check that failed never lets the run succeed
            run.success = False
        runs.append(run)
        if not run.success:
            break
    return runs


def reviewed_output(scratch: Scratch, metric: Metric, dataset: str, partition: str) -> pd.DataFrame:
    """What the working tree's definition accepted for ``dataset`` on ``partition``."""
    prefix = scratch.prefix([metric.name, REVIEW, dataset], partition)
    found = current_file(scratch.store(), prefix)
    if found is None:
        raise MetricdagError(f"{metric.name}/review/{dataset} has no scratch data for {partition} under {prefix}")
    return from_parquet_bytes(scratch.store().get_bytes(found.uri))
