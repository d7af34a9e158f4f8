"""Desired vs actual -> what to change: pure functions, no AWS calls (those are in ``aws.py``).

Every resource ends as one :class:`Change` line: created, updated or unchanged. A deploy that
finds everything in its desired state plans nothing but ``unchanged``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Change:
    """One resource and what the deploy did to it (``detail`` names fields, never values)."""

    kind: str
    name: str
    status: Status
    detail: str = ""

    def line(self) -> str:
        text = f"{self.status:9}  {self.kind:16}  {self.name}"
        return f"{text}  ({self.detail})" if self.detail else text


def changed(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.status != "unchanged"]


# ---------------------------------------------------------------------------------- Lambda


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's ``CodeSha256``: base64 of the SHA-256 of the deployment package."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


@dataclass(frozen=True)
class FunctionConfig:
    """The configuration fields deploy owns (compared one by one)."""

    runtime: str
    handler: str
    role: str
    timeout: int
    memory_size: int
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_aws(cls, configuration: dict[str, Any]) -> FunctionConfig:
        """From ``get_function(...)["Configuration"]``."""
        return cls(
            runtime=configuration.get("Runtime", ""),
            handler=configuration.get("Handler", ""),
            role=configuration.get("Role", ""),
            timeout=int(configuration.get("Timeout", 0)),
            memory_size=int(configuration.get("MemorySize", 0)),
            environment=dict((configuration.get("Environment") or {}).get("Variables") or {}),
        )

    def to_aws(self) -> dict[str, Any]:
        """Keyword arguments of ``create_function`` / ``update_function_configuration``."""
        return {
            "Runtime": self.runtime,
            "Handler": self.handler,
            "Role": self.role,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "Environment": {"Variables": dict(self.environment)},
        }

    def differing(self, other: FunctionConfig) -> list[str]:
        """Names of the fields that differ (AWS names; environment variables by name only)."""
        out = [
            aws for aws, mine, theirs in (
                ("Runtime", self.runtime, other.runtime),
                ("Handler", self.handler, other.handler),
                ("Role", self.role, other.role),
                ("Timeout", self.timeout, other.timeout),
                ("MemorySize", self.memory_size, other.memory_size),
            ) if mine != theirs
        ]
        names = sorted(k for k in self.environment.keys() | other.environment.keys()
                       if self.environment.get(k) != other.environment.get(k))
        if names:
            out.append("Environment: " + ", ".join(names))
        return out


@dataclass(frozen=True)
class FunctionState:
    """What AWS has: ``$LATEST`` and the version the alias points at (None: no alias)."""

    code_sha256: str
    config: FunctionConfig
    alias_version: str | None = None
    alias_code_sha256: str | None = None
    alias_config: FunctionConfig | None = None


@dataclass(frozen=True)
class FunctionPlan:
    create: bool = False
    update_code: bool = False
    update_config: tuple[str, ...] = ()
    publish: bool = False

    @property
    def touches_latest(self) -> bool:
        return self.create or self.update_code or bool(self.update_config)


def plan_function(desired_sha: str, desired: FunctionConfig, actual: FunctionState | None) -> FunctionPlan:
    """Create when missing; update the code only when its digest differs and the configuration
    only in the fields that differ; publish a version whenever ``$LATEST`` changes or the alias
    does not point at a version with the desired code and configuration."""
    if actual is None:
        return FunctionPlan(create=True, publish=True)
    update_code = actual.code_sha256 != desired_sha
    update_config = tuple(desired.differing(actual.config))
    alias_current = (
        actual.alias_version is not None
        and actual.alias_code_sha256 == desired_sha
        and actual.alias_config is not None
        and not desired.differing(actual.alias_config)
    )
    return FunctionPlan(
        update_code=update_code,
        update_config=update_config,
        publish=update_code or bool(update_config) or not alias_current,
    )


def function_change(name: str, plan: FunctionPlan) -> Change:
    if plan.create:
        return Change("lambda function", name, "created")
    parts = (["code"] if plan.update_code else []) + list(plan.update_config)
    return Change("lambda function", name, "updated" if parts else "unchanged", ", ".join(parts))


def plan_alias(alias_version: str | None, target_version: str) -> Status:
    """Create the alias, move it to ``target_version``, or leave it."""
    if alias_version is None:
        return "created"
    return "unchanged" if alias_version == target_version else "updated"


# ------------------------------------------------------------------------------------ SQS


def _normal(value: Any) -> Any:
    """Attribute values as SQS returns them (strings; JSON documents parsed, numbers as strings)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return _normal(parsed) if isinstance(parsed, (dict, list)) else value
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


def plan_queue_attributes(desired: dict[str, str], actual: dict[str, str] | None) -> tuple[Status, dict[str, str]]:
    """``created`` with every attribute, ``updated`` with the differing ones, or ``unchanged``."""
    if actual is None:
        return "created", dict(desired)
    diff = {k: v for k, v in desired.items() if _normal(v) != _normal(actual.get(k))}
    return ("updated" if diff else "unchanged"), diff


def redrive_policy(dead_letter_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(max_receive_count)})


def s3_send_policy(queue_arn: str, bucket_arns: list[str]) -> str:
    """The queue policy that lets S3 send the buckets' notifications to the queue (AWS checks it)."""
    statement: dict[str, Any] = {
        "Sid": "metricdag-s3-notifications",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
    }
    if bucket_arns:
        statement["Condition"] = {"ArnLike": {"aws:SourceArn": sorted(bucket_arns)}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


# ------------------------------------------------------------------------- S3 notifications

NOTIFICATION_ID_PREFIX = "metricdag-"


def notification_id(prefix: str, suffix: str | None) -> str:
    return NOTIFICATION_ID_PREFIX + (prefix.strip("/").replace("/", "-") or "all") + (f"-{suffix}" if suffix else "")


def queue_notification(queue_arn: str, prefix: str, suffix: str | None, events: list[str]) -> dict[str, Any]:
    """One ``QueueConfigurations`` entry as ``put_bucket_notification_configuration`` takes it."""
    rules = ([{"Name": "prefix", "Value": prefix}] if prefix else []) + (
        [{"Name": "suffix", "Value": suffix}] if suffix else []
    )
    entry: dict[str, Any] = {"Id": notification_id(prefix, suffix), "QueueArn": queue_arn, "Events": sorted(events)}
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": rules}}
    return entry


def _comparable(entry: dict[str, Any]) -> tuple:
    rules = (entry.get("Filter") or {}).get("Key", {}).get("FilterRules", [])
    return (
        entry.get("Id"),
        entry.get("QueueArn"),
        tuple(sorted(entry.get("Events", []))),
        tuple(sorted((r["Name"].lower(), r["Value"]) for r in rules)),
    )


def plan_notifications(
    desired: list[dict[str, Any]], actual: dict[str, Any]
) -> tuple[Status, dict[str, Any]]:
    """Merge deploy's queue notifications (ids ``metricdag-*``) into a bucket's configuration,
    keeping every other notification as it is. Returns the status and the configuration to put."""
    theirs = actual.get("QueueConfigurations", [])
    ours = [e for e in theirs if str(e.get("Id", "")).startswith(NOTIFICATION_ID_PREFIX)]
    if sorted(map(_comparable, ours)) == sorted(map(_comparable, desired)):
        return "unchanged", {}
    keep = [e for e in theirs if not str(e.get("Id", "")).startswith(NOTIFICATION_ID_PREFIX)]
    config = {k: v for k, v in actual.items() if k in ("TopicConfigurations", "LambdaFunctionConfigurations",
                                                         "EventBridgeConfiguration")}
    config["QueueConfigurations"] = keep + desired
    return ("updated" if ours else "created"), config
