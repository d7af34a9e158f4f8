"""One deploy, in order: validate, publish the catalog, bake its cache, then AWS (role, queues,
buckets, notifications, the persister function, its version and alias).

Nothing is changed before validation passed. Every step is idempotent, so a deploy that stopped
half-way is completed by running it again, and a second deploy reports only ``unchanged``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metricdag.deploy.plan import Change, FunctionConfig, code_sha256, queue_notification, redrive_policy, s3_send_policy
from metricdag.deploy.target import DeployTarget, function_name, function_secrets, queue_names
from metricdag.errors import ConfigError, SpecError
from metricdag.settings import Environment

CATALOG_CACHE_DIR = "catalog-cache"  # under the build dir; the Dockerfile copies it to the image's cache_dir


def validate(env: Environment) -> None:
    """The gate of ``metricdag validate``: every metric and pipeline config, or nothing deploys."""
    from metricdag.spec.project import validate_project

    report = validate_project(env.project_root)
    if not report.ok:
        raise SpecError(report.problems)


def publish_catalog(env: Environment, client: Any) -> list[Change]:
    """Every version in ``pipeline-configs/catalog/*.yaml``; versions already published are skipped."""
    from metricdag.catalog.seed import load_seed_files
    from metricdag.localstack.seed import CATALOG_SEED_DIR

    return [
        Change("catalog dataset", f"{d.name} {d.version}", "created" if client.publish_if_absent(d) else "unchanged")
        for d in load_seed_files(env.project_root / CATALOG_SEED_DIR)
    ]


def _tree_digest(folder: Path) -> str | None:
    if not folder.is_dir():
        return None
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def bake_catalog_cache(env: Environment, client: Any, build_dir: Path) -> Change:
    """Resolve every dataset the metrics read or write into ``<build>/catalog-cache/<env>/``, the
    cache the code-location image reads at definitions load (so that needs no network)."""
    from metricdag.catalog.client import CatalogClient
    from metricdag.localstack.seed import referenced_datasets

    cache_root = build_dir / CATALOG_CACHE_DIR
    before = _tree_digest(cache_root / env.name)
    names = referenced_datasets(env)
    CatalogClient(env.catalog.url, cache_root, env.name, session=client.session).refresh(names)
    after = _tree_digest(cache_root / env.name)
    status = "created" if before is None else ("unchanged" if before == after else "updated")
    return Change("catalog cache", str(cache_root / env.name), status, f"{len(names)} datasets")


def aws_clients(target: DeployTarget) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session(region_name=target.region)
    return {name: session.client(name, endpoint_url=target.endpoint_url) for name in ("iam", "sqs", "s3", "lambda")}


@dataclass(frozen=True)
class Inputs:
    """Everything the AWS part needs, read and checked before anything changes."""

    zip_bytes: bytes
    secrets: dict[str, str]
    function: str
    events_queue: str | None
    dead_letter_queue: str | None


def preflight(env: Environment, target: DeployTarget, zip_path: Path) -> Inputs:
    """The package, the secrets and the names: a missing one fails before validation, the catalog or AWS."""
    if not zip_path.is_file():
        raise ConfigError(f"the persister package {zip_path} does not exist: build it with `make package`")
    events_name, dlq_name = queue_names(target, env)
    if target.notifications and not events_name:
        raise ConfigError(f"deploy target of {env.name!r}: notifications need an events queue "
                          "(queues.events, or events.queue_url in the environment)")
    return Inputs(zip_path.read_bytes(), function_secrets(target), function_name(target, env), events_name, dlq_name)


def deploy_aws(env: Environment, target: DeployTarget, inputs: Inputs, clients: dict[str, Any],
               emit: Callable[[Change], None]) -> None:
    from metricdag.deploy import aws

    zip_bytes, secrets, name = inputs.zip_bytes, inputs.secrets, inputs.function
    events_name, dlq_name = inputs.events_queue, inputs.dead_letter_queue

    role_change, role_arn = aws.ensure_role(clients["iam"], target.function.role)
    if role_change:
        emit(role_change)
    q = target.queues
    dlq_arn = None
    if dlq_name:
        change, _, dlq_arn = aws.ensure_queue(
            clients["sqs"], dlq_name, lambda arn: {"MessageRetentionPeriod": str(q.dead_letter_retention_s)})
        emit(change)
    if events_name:
        bucket_arns = [f"arn:aws:s3:::{n.bucket}" for n in target.notifications]

        def events_attributes(arn: str) -> dict[str, str]:
            attrs = {"VisibilityTimeout": str(q.visibility_timeout_s), "MessageRetentionPeriod": str(q.retention_s)}
            if dlq_arn:
                attrs["RedrivePolicy"] = redrive_policy(dlq_arn, q.max_receive_count)
            if bucket_arns:
                attrs["Policy"] = s3_send_policy(arn, bucket_arns)
            return attrs

        change, _, events_arn = aws.ensure_queue(clients["sqs"], events_name, events_attributes)
        emit(change)
    for bucket in dict.fromkeys([*target.buckets, *(n.bucket for n in target.notifications)]):
        emit(aws.ensure_bucket(clients["s3"], bucket, target.region))
    by_bucket: dict[str, list[dict]] = {}
    for n in target.notifications:
        by_bucket.setdefault(n.bucket, []).append(queue_notification(events_arn, n.prefix, n.suffix, n.events))
    for bucket, desired in by_bucket.items():
        emit(aws.ensure_notifications(clients["s3"], bucket, desired))

    config = FunctionConfig(
        runtime=target.function.runtime, handler=target.function.handler, role=role_arn,
        timeout=target.function.timeout_s, memory_size=target.function.memory_mb,
        environment={"METRICDAG_ENV": env.name, **target.function.environment, **secrets},
    )
    for change in aws.ensure_function(clients["lambda"], clients["s3"], name, target.function.alias, zip_bytes,
                                      code_sha256(zip_bytes), config, target.function.code_bucket):
        emit(change)


def deploy(env: Environment, target: DeployTarget, *, zip_path: Path | None = None, build_dir: Path | None = None,
           clients: dict[str, Any] | None = None, emit: Callable[[Change], None] = lambda c: None) -> list[Change]:
    """Run every step; each resource's :class:`Change` goes to ``emit`` as it is done, and all are returned."""
    from metricdag.catalog.client import CatalogClient

    done: list[Change] = []

    def record(change: Change) -> None:
        done.append(change)
        emit(change)

    inputs = preflight(env, target, zip_path or env.path(target.function.zip))
    validate(env)
    client = CatalogClient.for_environment(env)
    for change in publish_catalog(env, client):
        record(change)
    build = build_dir or env.path(target.build_dir)
    record(bake_catalog_cache(env, client, build))
    deploy_aws(env, target, inputs, clients or aws_clients(target), record)
    return done
