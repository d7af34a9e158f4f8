"""One deploy, in order: validate, publish the catalog, bake its cache, then AWS (role, queues,
bucket, notifications, the persister function, its version and alias). Which bucket, queues and
notifications exist is :func:`metricdag.events.wiring.plan_wiring`'s plan, the one the local stack
also creates for aws-local; the deploy adds what only production needs (the dead-letter redrive,
the queue policy that lets S3 send, retention).

Nothing is changed before validation passed. Every step is idempotent, so a deploy that stopped
half-way is completed by running it again, and a second deploy reports only ``unchanged``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metricdag.deploy.plan import Change, FunctionConfig, code_sha256, redrive_policy, s3_send_policy
from metricdag.deploy.target import DeployTarget, function_name, function_secrets, function_timeout
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
    from metricdag.catalog.seed import CATALOG_SEED_DIR

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
    from metricdag.catalog.refresh import referenced_datasets

    cache_root = build_dir / CATALOG_CACHE_DIR
    before = _tree_digest(cache_root / env.name)
    names = referenced_datasets(env)
    CatalogClient(env.catalog.url, cache_root, env.name, session=client.session).refresh(names)
    after = _tree_digest(cache_root / env.name)
    status = "created" if before is None else ("unchanged" if before == after else "updated")
    return Change("catalog cache", str(cache_root / env.name), status, f"{len(names)} datasets")


def aws_clients(env: Environment, target: DeployTarget) -> dict[str, Any]:
    """IAM and Lambda at the target's endpoint; S3 and SQS where the environment's runtime reads them."""
    from metricdag import aws

    s3_endpoint = env.object_store.s3_endpoint_url
    sqs_endpoint = env.events.sqs_endpoint_url if env.events else None
    return {
        "iam": aws.client("iam", target.endpoint_url, target.region),
        "lambda": aws.client("lambda", target.endpoint_url, target.region),
        "s3": aws.client("s3", s3_endpoint or target.endpoint_url, env.object_store.s3_region),
        "sqs": aws.client("sqs", sqs_endpoint or target.endpoint_url, env.events.region if env.events else target.region),
    }


@dataclass(frozen=True)
class Inputs:
    """Everything the AWS part needs, read and checked before anything changes."""

    zip_bytes: bytes
    secrets: dict[str, str]
    function: str
    wiring: Any | None  # metricdag.events.wiring.Wiring; None: events do not come over SQS here
    dead_letter_queue: str | None


def _wiring(env: Environment) -> tuple[Any | None, str | None]:
    from metricdag.events.wiring import plan_wiring, queue_name

    if env.events is None or env.events.source != "sqs":
        return None, None
    dead = env.events.dead_letter
    return plan_wiring(env), (queue_name(dead) if dead.startswith("http") else None)


def preflight(env: Environment, target: DeployTarget, zip_path: Path) -> Inputs:
    """The package, the secrets and the plan: a problem fails before validation, the catalog or AWS."""
    if not zip_path.is_file():
        raise ConfigError(f"the persister package {zip_path} does not exist: build it with `make package`")
    wiring, dead_letter = _wiring(env)
    return Inputs(zip_path.read_bytes(), function_secrets(target), function_name(target, env), wiring, dead_letter)


def deploy_events(target: DeployTarget, inputs: Inputs, clients: dict[str, Any],
                  emit: Callable[[Change], None]) -> None:
    """The dead-letter queue, each metric's events queue (redrive to it, S3 allowed to send), the
    bucket and its notifications (each event type's prefix to the queue of the metric listening)."""
    from metricdag.deploy import aws
    from metricdag.events.wiring import notification_configuration

    wiring, q = inputs.wiring, target.queues
    bucket_arn = f"arn:aws:s3:::{wiring.bucket}"
    arns: dict[str, str] = {}
    dlq_arn = None
    if inputs.dead_letter_queue:
        change, _, dlq_arn = aws.ensure_queue(
            clients["sqs"], inputs.dead_letter_queue,
            lambda arn: {"MessageRetentionPeriod": str(q.dead_letter_retention_s)})
        arns[inputs.dead_letter_queue] = dlq_arn
        emit(change)

    def events_attributes(arn: str) -> dict[str, str]:
        attrs = {"VisibilityTimeout": str(q.visibility_timeout_s), "MessageRetentionPeriod": str(q.retention_s),
                 "Policy": s3_send_policy(arn, [bucket_arn])}
        if dlq_arn:
            attrs["RedrivePolicy"] = redrive_policy(dlq_arn, q.max_receive_count)
        return attrs

    for name in sorted(set(wiring.queues) - {inputs.dead_letter_queue}):
        change, url, arns[name] = aws.ensure_queue(clients["sqs"], name, events_attributes)
        emit(change)
        if url.rstrip("/") != wiring.queues[name].rstrip("/"):
            raise ConfigError(f"queue {name} is at {url}, but the environment names {wiring.queues[name]} "
                              "(events.queue_url: the account or region differs)")
    emit(aws.ensure_bucket(clients["s3"], wiring.bucket, clients["s3"].meta.region_name))
    desired = notification_configuration(wiring, arns)["QueueConfigurations"]
    emit(aws.ensure_notifications(clients["s3"], wiring.bucket, desired))


def deploy_aws(env: Environment, target: DeployTarget, inputs: Inputs, clients: dict[str, Any],
               emit: Callable[[Change], None]) -> None:
    from metricdag.deploy import aws

    role_change, role_arn = aws.ensure_role(clients["iam"], target.function.role)
    if role_change:
        emit(role_change)
    if inputs.wiring is not None:
        deploy_events(target, inputs, clients, emit)
    if target.function.code_bucket:  # where packages over Lambda's 50 MB direct upload go
        emit(aws.ensure_bucket(clients["s3"], target.function.code_bucket, clients["s3"].meta.region_name))
    config = FunctionConfig(
        runtime=target.function.runtime, handler=target.function.handler, role=role_arn,
        timeout=function_timeout(target, env), memory_size=target.function.memory_mb,
        environment={"METRICDAG_ENV": env.name, **target.function.environment, **inputs.secrets},
    )
    for change in aws.ensure_function(clients["lambda"], clients["s3"], inputs.function, target.function.alias,
                                      inputs.zip_bytes, code_sha256(inputs.zip_bytes), config,
                                      target.function.code_bucket):
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
    deploy_aws(env, target, inputs, clients or aws_clients(env, target), record)
    return done
