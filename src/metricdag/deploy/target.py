"""What ``metricdag deploy --env ENV`` brings about in AWS: ``deploy/targets/<env>.yaml``.

The runtime side of an environment (where the persister, the queues and the object store are)
stays in ``pipeline-configs/environments/<env>.yaml``; names this file leaves out are taken from
there (the function name, the queue URLs). Values may use ``${VAR:-default}`` like environment
files; secrets are never in it: ``secrets_from_env`` names variables whose values the deploying
process passes to the function.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from metricdag.errors import ConfigError
from metricdag.settings import Environment, interpolate

TARGETS_DIR = Path("deploy") / "targets"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FunctionTarget(_Strict):
    name: str | None = Field(default=None, description="default: persister.function_name of the environment")
    zip: str = Field(default="dist/metricdag-persister-lambda.zip", description="the package `make package` builds")
    runtime: str = "python3.11"
    handler: str = "lambda_function.handler"  # the entry point `make package` puts at the zip's root
    role: str = Field(
        description="an IAM role ARN (used as it is) or a role name (created, trusting Lambda, when missing)"
    )
    alias: str = "live"
    code_bucket: str | None = Field(
        default=None, description="upload the zip to this bucket and deploy it from there (needed above 50 MB)"
    )
    timeout_s: int = Field(default=300, ge=1, le=900)
    memory_mb: int = Field(default=1024, ge=128, le=10240)
    environment: dict[str, str] = Field(default_factory=dict, description="plain variables set on the function")
    secrets_from_env: list[str] = Field(
        default_factory=list, description="variables whose values the deploying process passes on (never printed)"
    )


class QueuesTarget(_Strict):
    events: str | None = Field(default=None, description="queue name; default: the last part of events.queue_url")
    dead_letter: str | None = Field(default=None, description="queue name; default: from events.dead_letter")
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    visibility_timeout_s: int = Field(default=60, ge=0, le=43200)
    retention_s: int = Field(default=345_600, ge=60, le=1_209_600)
    dead_letter_retention_s: int = Field(default=1_209_600, ge=60, le=1_209_600)


class NotificationTarget(_Strict):
    """New objects under ``s3://<bucket>/<prefix>`` are announced on the events queue."""

    bucket: str
    prefix: str = ""
    suffix: str | None = None
    events: list[str] = Field(default_factory=lambda: ["s3:ObjectCreated:*"])


class DeployTarget(_Strict):
    region: str = "us-east-1"
    endpoint_url: str | None = Field(default=None, description="AWS API endpoint (moto on loopback); none: AWS")
    build_dir: str = Field(default="dist", description="the build the code-location image is made from")
    function: FunctionTarget
    queues: QueuesTarget = QueuesTarget()
    buckets: list[str] = Field(default_factory=list, description="buckets created when missing")
    notifications: list[NotificationTarget] = Field(default_factory=list)


def target_path(root: Path, env_name: str) -> Path:
    return root / TARGETS_DIR / f"{env_name}.yaml"


def load_target(env: Environment) -> DeployTarget:
    from metricdag.yamlio import load_model_text

    path = target_path(env.project_root, env.name)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(
            f"environment {env.name!r} has no deploy target: {path} does not exist "
            f"(deployable: {', '.join(known) or 'none'})"
        )
    return load_model_text(DeployTarget, interpolate(path.read_text(), str(path)), path)


def _queue_name(value: str | None, what: str) -> str | None:
    if not value:
        return None
    if not value.startswith("http"):
        return None  # a folder, not a queue
    name = value.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise ConfigError(f"{what} {value!r} does not end in a queue name")
    return name


def function_name(target: DeployTarget, env: Environment) -> str:
    name = target.function.name or env.persister.function_name
    if not name:
        raise ConfigError(f"deploy target of {env.name!r}: function.name is not set and the environment has no "
                          "persister.function_name")
    return name


def queue_names(target: DeployTarget, env: Environment) -> tuple[str | None, str | None]:
    """(events queue, dead-letter queue): the target's names, else the environment's URLs'."""
    events = target.queues.events or _queue_name(env.events.queue_url if env.events else None, "events.queue_url")
    dlq = target.queues.dead_letter or _queue_name(env.events.dead_letter if env.events else None, "events.dead_letter")
    return events, dlq


def function_secrets(target: DeployTarget) -> dict[str, str]:
    """The values of ``secrets_from_env`` from this process's environment; a missing one is an error."""
    import os

    bad = [n for n in target.function.secrets_from_env if not _ENV_NAME.match(n)]
    if bad:
        raise ConfigError(f"function.secrets_from_env: {', '.join(bad)} are not environment variable names")
    missing = [n for n in target.function.secrets_from_env if not os.environ.get(n)]
    if missing:
        raise ConfigError(
            f"environment variable(s) {', '.join(missing)} not set: the deploy passes them to the persister "
            "function (function.secrets_from_env); set them as CI/CD secrets"
        )
    return {n: os.environ[n] for n in target.function.secrets_from_env}
