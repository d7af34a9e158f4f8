"""The one environment resolver.

``METRICDAG_ENV`` (default ``local``) selects ``pipeline-configs/environments/<env>.yaml``.
Values in that file may use ``${VAR}`` or ``${VAR:-default}`` to take a non-secret value
from the process environment (ports, directories). Secrets are never in YAML: the file
names the environment variable that holds them (``password_env``), and they are read
only when a connection is made.

Nothing here runs at import time; call :func:`load_environment`.
"""

from __future__ import annotations

import os
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from metricdag.auth.transport import require_secure_transport
from metricdag.errors import ConfigError
from metricdag.schema import StrictModel

_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


def _credential_url(value: str | None) -> str | None:
    """A URL that carries tokens or secrets: https, or plain http to a loopback host only."""
    return value if value is None else require_secure_transport(value)


def _object_store_uri(value: str) -> str:
    if not value.startswith(("file://", "s3://")):
        raise ValueError(f"{value!r} must be a file:// or s3:// URI")
    if ".." in value.split("://", 1)[1].split("/"):
        raise ValueError(f"{value!r} must not contain '..'")
    return value


class ObjectStoreSettings(StrictModel):
    base_uri: str = Field(description="file://<dir> locally, s3://<bucket>/<prefix> when deployed")
    s3_endpoint_url: str | None = Field(default=None, description="custom S3 endpoint (moto, MinIO)")
    s3_region: str = "us-east-1"
    allowed_prefixes: list[str] = Field(
        default_factory=list,
        description="other file:// or s3:// prefixes catalog coordinates may point sourcing at (reference data); "
        "everything else must be under base_uri",
    )

    @field_validator("base_uri")
    @classmethod
    def _base(cls, v: str) -> str:
        return _object_store_uri(v)

    @field_validator("allowed_prefixes")
    @classmethod
    def _allowed(cls, v: list[str]) -> list[str]:
        return [_object_store_uri(p) for p in v]


class SnowflakeSettings(StrictModel):
    account: str
    user: str
    password_env: str = Field(description="name of the environment variable holding the password")
    database: str
    warehouse: str | None = None
    role: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: Literal["https", "http"] = "https"
    login_timeout_s: int = 60
    stage: str | None = Field(
        default=None,
        description="named external stage over the object store; COPY reads from @stage/<key> when set",
    )
    copy_from_local_file: bool = Field(
        default=False,
        description="aws-local only: this Snowflake (fakesnow) cannot read s3://, so the persister COPYs the "
        "Parquet file it already fetched from a local temporary copy (persistence.handler.copy_location)",
    )

    def password(self) -> SecretStr:
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(
                f"environment variable {self.password_env} is not set: it holds the Snowflake "
                f"password for user {self.user!r} (for the local stack any value works; see .env.example)"
            )
        return SecretStr(value)

    def connection_args(self) -> dict:
        """Arguments for ``snowflake.connector.connect`` (password included, never log them)."""
        args: dict = {
            "account": self.account,
            "user": self.user,
            "password": self.password().get_secret_value(),
            "database": self.database,
            "login_timeout": self.login_timeout_s,
            "network_timeout": self.login_timeout_s,
        }
        for name in ("warehouse", "role", "host", "port"):
            if getattr(self, name) is not None:
                args[name] = getattr(self, name)
        if self.protocol != "https":
            args["protocol"] = self.protocol
        return args


class CatalogSettings(StrictModel):
    url: str
    cache_dir: str

    @field_validator("url")
    @classmethod
    def _secure(cls, v: str) -> str:
        return _credential_url(v)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class AuthSettings(StrictModel):
    """OAuth2 client credentials: how this process gets tokens, and what services expect of them."""

    token_url: str = Field(description="the token endpoint (https, or http on loopback only)")
    client_id: str
    client_secret_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$", description="name of the environment variable holding the client secret"
    )
    scopes: list[str] = Field(min_length=1, description="scopes to request, e.g. catalog:read")
    audience: str = Field(default="metricdag", description="the 'aud' services expect in tokens")
    issuer: str | None = Field(default=None, description="the 'iss' services expect; default: the token URL's origin")
    jwks_url: str | None = Field(default=None, description="public keys; default: <token origin>/.well-known/jwks.json")

    @field_validator("token_url", "jwks_url")
    @classmethod
    def _secure(cls, v: str | None) -> str | None:
        return _credential_url(v)

    @property
    def expected_issuer(self) -> str:
        return self.issuer or _origin(self.token_url)

    @property
    def keys_url(self) -> str:
        return self.jwks_url or _origin(self.token_url) + "/.well-known/jwks.json"


class LegendSettings(StrictModel):
    base_url: str = Field(description="Legend lambda endpoints; relative lambda URLs in the catalog resolve against it")
    allowed_urls: list[str] = Field(
        default_factory=list,
        description="other base URLs absolute lambda URLs in the catalog may be under (the bearer token is sent "
        "there too); every other lambda URL is refused",
    )

    @field_validator("base_url")
    @classmethod
    def _secure(cls, v: str) -> str:
        return _credential_url(v)

    @field_validator("allowed_urls")
    @classmethod
    def _secure_all(cls, v: list[str]) -> list[str]:
        return [_credential_url(u) for u in v]

    @property
    def bases(self) -> list[str]:
        """Every base a lambda URL may be under: ``base_url`` first, then ``allowed_urls``."""
        return [self.base_url, *self.allowed_urls]


class PersisterSettings(StrictModel):
    invoke: Literal["in_process", "lambda"] = Field(
        default="in_process", description="run the handler in this process, or call the deployed function"
    )
    function_name: str | None = None
    lambda_endpoint_url: str | None = Field(default=None, description="custom Lambda endpoint (the local stack's Invoke API)")
    region: str = "us-east-1"
    timeout_s: int = Field(default=900, ge=1, le=900, description="the function's timeout (AWS allows up to 900 s)")


class EventsSettings(StrictModel):
    """Where event sensors read events from and where unreadable events go (``events:``)."""

    source: Literal["inbox", "sqs", "object_store"] = "inbox"
    inbox_dir: str | None = Field(default=None, description="inbox: a folder of <sortable id>.json files")
    queue_url: str | None = Field(default=None, description="sqs: the queue the sensors receive from")
    sqs_endpoint_url: str | None = Field(default=None, description="custom SQS endpoint (moto, LocalStack)")
    region: str = "us-east-1"
    prefix: str | None = Field(
        default=None,
        description="file:// or s3:// prefix whose new objects are events (<prefix>/<event type>/<name>): read by "
        "object_store; with sqs, the S3 notifications of objects under it come to the queue "
        "(default: <object store>/events)",
    )
    dead_letter: str = Field(description="a folder, or an SQS queue URL (https://...), for events that cannot be read")
    max_age_h: float = Field(
        default=48, gt=0, description="older events are logged and skipped (a new sensor does not replay an old inbox)"
    )


class AlertingSettings(StrictModel):
    """Where alerts go (``alerting:``); routes per metric are in pipeline-configs/alerting.yaml."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    sender: str = "metricdag@localhost"
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    timeout_s: float = Field(default=10, gt=0)


class AuditSettings(StrictModel):
    """The audit store (``audit:``): a SQLAlchemy URL, separate from the catalog's database."""

    url: str


class ReviewSettings(StrictModel):
    """Backtested gates (``review:``): with ``require_backtest`` a blocking check that is new or
    changed since the accepted history was checked runs as warn until ``metricdag review
    backtest`` recorded a backtest of its definition; ``validate --strict`` rejects a backtest
    that fired on more than ``max_fire_share`` of its partitions."""

    require_backtest: bool = False
    backtest_partitions: int = Field(30, ge=1)  # N: the accepted partitions a backtest covers
    max_fire_share: float = Field(0.1, ge=0, le=1)


class SampleSettings(StrictModel):
    end_date: date = Field(description="the sample date `make run` computes")
    days: int = Field(default=7, ge=1, le=366, description="days of history seeded, ending at end_date")
    rows_per_day: int = Field(default=20_000, ge=10)


class LocalStackSettings(StrictModel):
    state_dir: str
    snowflake_db_dir: str
    catalog_db_url: str
    auth_key_dir: str = Field(description="the local token service's signing key (created once)")
    auth_clients: str = Field(description="clients registered with the local token service (YAML)")
    token_ttl_s: int = Field(default=900, ge=5, le=86_400, description="lifetime of local access tokens")
    sample: SampleSettings


class ExecutorSpec(StrictModel):
    """How the steps of a run execute (``executor:`` in metric.yaml; the environment file holds the
    default). ``in_process``: every step in the run's own process, one after another (no per-step
    start-up; JVM nodes still run as their own processes). ``multiprocess``: each step in its own
    process, at most ``max_concurrent`` at once, started from a forkserver that has imported
    ``preload_modules`` once (or spawned afresh)."""

    type: Literal["in_process", "multiprocess"] = "in_process"
    max_concurrent: int | None = Field(default=None, ge=1, le=256, description="multiprocess: steps at once (default: CPUs)")
    start_method: Literal["forkserver", "spawn"] = "forkserver"
    preload_modules: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]] = Field(
        default_factory=lambda: list(DEFAULT_PRELOAD),
        description="forkserver: modules imported once in the forkserver, so each step starts without importing them",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v):
        return {"type": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _multiprocess_only(self) -> "ExecutorSpec":
        extra = sorted(self.model_fields_set & {"max_concurrent", "start_method", "preload_modules"})
        if self.type == "in_process" and extra:
            raise ValueError(f"{', '.join(extra)} only appl{'ies' if len(extra) == 1 else 'y'} to type: multiprocess")
        if self.start_method == "spawn" and "preload_modules" in self.model_fields_set:
            raise ValueError("preload_modules only applies to start_method: forkserver")
        return self

    @property
    def label(self) -> str:
        """What the run tag ``metricdag/executor`` shows."""
        if self.type == "in_process":
            return "in_process"
        bound = f", max_concurrent={self.max_concurrent}" if self.max_concurrent else ""
        return f"multiprocess ({self.start_method}{bound})"


DEFAULT_PRELOAD = ("dagster", "pandas", "pyarrow", "metricdag.factory")


class Environment(StrictModel):
    name: str
    object_store: ObjectStoreSettings
    snowflake: SnowflakeSettings
    catalog: CatalogSettings
    auth: AuthSettings
    legend: LegendSettings | None = None
    persister: PersisterSettings = PersisterSettings()
    events: EventsSettings | None = None
    alerting: AlertingSettings | None = None
    audit: AuditSettings | None = None
    review: ReviewSettings = ReviewSettings()
    localstack: LocalStackSettings | None = None
    executor: ExecutorSpec = Field(
        default_factory=ExecutorSpec, description="how runs execute their steps unless metric.yaml says (executor:)"
    )
    project_root: Path

    def path(self, value: str) -> Path:
        """A path from the config, relative ones resolved against the project root."""
        p = Path(value)
        return p if p.is_absolute() else self.project_root / p

    def sqlalchemy_url(self, url: str) -> str:
        """``sqlite:///relative`` resolved against the project root; other URLs unchanged."""
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url[len(prefix) :].startswith("/"):
            return prefix + str(self.path(url[len(prefix) :]))
        return url

    def _resolved_uri(self, uri: str) -> str:
        if uri.startswith("file://"):
            return "file://" + str(self.path(uri[len("file://") :]))
        return uri

    @property
    def object_store_uri(self) -> str:
        return self._resolved_uri(self.object_store.base_uri)

    @property
    def object_store_allowed_prefixes(self) -> list[str]:
        """``object_store.allowed_prefixes``, relative ``file://`` ones resolved against the project root."""
        return [self._resolved_uri(p) for p in self.object_store.allowed_prefixes]

    @property
    def bearer_token_bases(self) -> tuple[str, ...]:
        """The only base URLs this environment's bearer token is sent to: the catalog and Legend."""
        return (self.catalog.url, *(self.legend.bases if self.legend else ()))


def find_project_root(start: Path | None = None) -> Path:
    """The folder holding ``pipeline-configs/`` (``METRICDAG_HOME`` wins when set)."""
    if home := os.environ.get("METRICDAG_HOME"):
        return Path(home).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pipeline-configs" / "environments").is_dir():
            return candidate
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "pipeline-configs").is_dir():
        return package_root
    raise ConfigError(
        f"no pipeline-configs/environments folder found above {here}; run from the project or set METRICDAG_HOME"
    )


def interpolate(text: str, source: str) -> str:
    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{source}: ${{{name}}} is used but {name} is not set and has no default")

    return _VAR.sub(sub, text)


def environment_name() -> str:
    return os.environ.get("METRICDAG_ENV", "local")


def load_environment(name: str | None = None, project_root: Path | None = None) -> Environment:
    from metricdag.yamlio import load_model_text

    name = name or environment_name()
    root = project_root or find_project_root()
    path = root / "pipeline-configs" / "environments" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(f"METRICDAG_ENV={name!r}: {path} does not exist (known: {', '.join(known)})")
    text = interpolate(path.read_text(), str(path))
    return load_model_text(Environment, text, path, extra={"project_root": root})


@lru_cache(maxsize=8)
def cached_environment(name: str, root: str) -> Environment:
    return load_environment(name, Path(root))


def current_environment() -> Environment:
    """The environment for this process, resolved once per (env name, project root)."""
    return cached_environment(environment_name(), str(find_project_root()))


def dagster_home(project_root: Path | None = None) -> Path:
    """The Dagster instance folder every command shares: ``DAGSTER_HOME`` when set, else the
    project's ``.dagster/`` with its ``dagster.yaml`` (what the Makefile sets), so runs started by
    ``metricdag run`` show in ``dg dev``'s UI and reach its run-status sensors."""
    if home := os.environ.get("DAGSTER_HOME"):
        return Path(home).resolve()
    return (project_root or find_project_root()).resolve() / ".dagster"
