"""What ``metricdag deploy --env ENV`` brings about in AWS: ``deploy/targets/<env>.yaml``.

The runtime side of an environment stays in ``pipeline-configs/environments/<env>.yaml``, and what
exists follows from it: the function name (``persister.function_name``), its timeout, and the
bucket, queues and notifications :func:`metricdag.events.wiring.plan_wiring` plans from it and
``events.yaml``. This file holds what only a deploy needs (role, alias, memory, the queues'
redrive and retention, the control-plane endpoint). Values may use ``${VAR:-default}`` like environment
files; secrets are never in it: ``secrets_from_env`` names variables whose values the deploying
process passes to the function.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field

from metricdag.errors import ConfigError
from metricdag.settings import Environment, interpolate
from metricdag.schema import StrictModel

TARGETS_DIR = Path("deploy") / "targets"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class FunctionTarget(StrictModel):
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
    timeout_s: int | None = Field(default=None, ge=1, le=900, description="default: persister.timeout_s")
    memory_mb: int = Field(default=1024, ge=128, le=10240)
    environment: dict[str, str] = Field(default_factory=dict, description="plain variables set on the function")
    secrets_from_env: list[str] = Field(
        default_factory=list, description="variables whose values the deploying process passes on (never printed)"
    )


class QueuesTarget(StrictModel):
    """Attributes of the event queues (which queues exist follows from the environment)."""

    max_receive_count: int = Field(default=5, ge=1, le=1000, description="receives before the dead-letter queue")
    visibility_timeout_s: int = Field(default=60, ge=0, le=43200)
    retention_s: int = Field(default=345_600, ge=60, le=1_209_600)
    dead_letter_retention_s: int = Field(default=1_209_600, ge=60, le=1_209_600)


class DeployTarget(StrictModel):
    region: str = "us-east-1"
    endpoint_url: str | None = Field(
        default=None, description="IAM and Lambda API endpoint (moto on loopback); none: AWS. S3 and SQS use the "
        "environment's endpoints, where the runtime reads them"
    )
    build_dir: str = Field(default="dist", description="the build the code-location image is made from")
    function: FunctionTarget
    queues: QueuesTarget = QueuesTarget()


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


def function_name(target: DeployTarget, env: Environment) -> str:
    """The function's name; the environment may name it with the alias it invokes (``name:live``)."""
    name = target.function.name or env.persister.function_name
    if not name:
        raise ConfigError(f"deploy target of {env.name!r}: function.name is not set and the environment has no "
                          "persister.function_name")
    bare, _, qualifier = name.partition(":")
    if qualifier and qualifier != target.function.alias:
        raise ConfigError(f"environment {env.name!r} invokes {name!r}, but the deploy moves alias "
                          f"{target.function.alias!r}: name the same alias in both")
    return bare


def function_timeout(target: DeployTarget, env: Environment) -> int:
    return target.function.timeout_s or env.persister.timeout_s


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
