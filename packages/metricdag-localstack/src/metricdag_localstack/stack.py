"""``metricdag stack up | down | status``: the local stand-ins, each on loopback.

- ``token``: the OAuth2 token service (started first: the others fetch its public keys);
- ``snowflake``: fakesnow over DuckDB files;
- ``catalog``: the catalog service on SQLite (needs a bearer token);
- ``legend``: the Legend lambda stand-in (needs a bearer token);
- ``smtp``: an SMTP sink keeping every message under ``<state_dir>/mail/``;
- ``pagerduty``: a PagerDuty Events API v2 receiver keeping every event under ``<state_dir>/pagerduty/``;
- ``moto`` (aws-local: the object store's S3 endpoint is on loopback): moto's server for S3 and SQS;
  once it is up, the bucket, the event queues and the bucket notifications are created
  (:func:`metricdag.events.wiring.ensure`);
- ``lambda`` (aws-local: ``persister.lambda_endpoint_url`` on loopback): the Lambda Invoke API
  running the persister's deployment zip, which is built first when missing or stale.

Each service runs as its own process (own process group) and is started only once the one
before it answers its health check. The stack's state (pids, ports, logs) is kept in
``<state_dir>/stack.json`` so ``down`` and ``status`` work from any shell.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import requests

from metricdag.errors import MetricdagError
from metricdag.settings import Environment
from metricdag_localstack.processes import (
    pid_alive,
    port_in_use,
    start_process,
    stop_process_group,
    wait_for_port,
)

STATE_FILE = "stack.json"


class StackError(MetricdagError):
    pass


@dataclass(frozen=True)
class ServiceState:
    name: str
    pid: int
    host: str
    port: int
    log: str


@dataclass(frozen=True)
class ServicePlan:
    name: str
    host: str
    port: int
    argv: list[str]
    port_env: str = ""
    health_path: str | None = None  # an HTTP path answering 200 once the service is ready


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlparse(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _require_local(env: Environment):
    if env.localstack is None:
        raise StackError(f"environment {env.name!r} has no localstack section: the local stack runs only for local environments")
    return env.localstack


def plan(env: Environment) -> list[ServicePlan]:
    """The services in start order: the token service first, since the others fetch its keys."""
    local = _require_local(env)
    auth = env.auth
    verify = ["--jwks-url", auth.keys_url, "--issuer", auth.expected_issuer, "--audience", auth.audience]
    token_host, token_port = _host_port(auth.token_url, 80)
    catalog_host, catalog_port = _host_port(env.catalog.url, 80)
    sf_host, sf_port = env.snowflake.host or "127.0.0.1", env.snowflake.port or 8765
    plans = [
        ServicePlan(
            "token",
            token_host,
            token_port,
            [sys.executable, "-m", "metricdag_token_service", "--clients", str(env.path(local.auth_clients)),
             "--key-dir", str(env.path(local.auth_key_dir)), "--issuer", auth.expected_issuer,
             "--audience", auth.audience, "--ttl", str(local.token_ttl_s), "--host", token_host, "--port", str(token_port)],
            "METRICDAG_TOKEN_PORT",
            "/.well-known/jwks.json",
        ),
        ServicePlan(
            "snowflake",
            sf_host,
            sf_port,
            [sys.executable, "-m", "metricdag_localstack.snowflake_server", "--db-dir",
             str(env.path(local.snowflake_db_dir)), "--host", sf_host, "--port", str(sf_port)],
            "METRICDAG_SNOWFLAKE_PORT",
        ),
        ServicePlan(
            "catalog",
            catalog_host,
            catalog_port,
            [sys.executable, "-m", "metricdag_catalog_service", "--db-url", _sqlite_url(env, local.catalog_db_url),
             *verify, "--host", catalog_host, "--port", str(catalog_port)],
            "METRICDAG_CATALOG_PORT",
            "/health",
        ),
    ]
    if env.legend is not None:
        legend_host, legend_port = _host_port(env.legend.base_url, 80)
        plans.append(
            ServicePlan(
                "legend",
                legend_host,
                legend_port,
                [sys.executable, "-m", "metricdag_localstack.legend_service", *verify,
                 "--host", legend_host, "--port", str(legend_port)],
                "METRICDAG_LEGEND_PORT",
                "/health",
            )
        )
    plans += alert_sink_plans(env)
    plans += aws_plans(env)
    return plans


def aws_plans(env: Environment) -> list[ServicePlan]:
    """moto's server when the object store's S3 endpoint is on loopback, and the Lambda Invoke API
    when the persister is a Lambda on loopback."""
    from metricdag.aws import is_loopback

    local = _require_local(env)
    out = []
    s3 = env.object_store.s3_endpoint_url
    if is_loopback(s3):
        host, port = _host_port(s3, 80)
        out.append(ServicePlan(
            "moto", host, port, [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
            "METRICDAG_MOTO_PORT", "/moto-api/",
        ))
    persister = env.persister
    if persister.invoke == "lambda" and is_loopback(persister.lambda_endpoint_url):
        from metricdag.packaging import LAMBDA_HANDLER

        host, port = _host_port(persister.lambda_endpoint_url, 80)
        state_dir = env.path(local.state_dir).resolve()
        out.append(ServicePlan(
            "lambda", host, port,
            [sys.executable, "-m", "metricdag_localstack.lambda_service",
             "--function-name", persister.function_name or "metricdag-persister", "--zip", str(lambda_zip_path(env)),
             "--handler", LAMBDA_HANDLER, "--timeout", str(persister.timeout_s), "--state-dir", str(state_dir),
             # what the deployed function is configured with: its environment's name and variables
             # (secrets pass through this process's environment, never the command line)
             "--pass-env", "METRICDAG_*", "--pass-env", "AWS_*", "--pass-env", env.snowflake.password_env,
             "--set", f"METRICDAG_ENV={env.name}", "--set", f"METRICDAG_LOCAL_DIR={state_dir}",
             "--host", host, "--port", str(port)],
            "METRICDAG_LAMBDA_PORT", "/health",
        ))
    return out


def lambda_zip_path(env: Environment) -> Path:
    from metricdag.packaging import LAMBDA_ZIP

    return env.project_root / "dist" / LAMBDA_ZIP


def alert_sink_plans(env: Environment) -> list[ServicePlan]:
    """The SMTP sink and the PagerDuty receiver, when alerting points at loopback."""
    if env.alerting is None:
        return []
    local = _require_local(env)
    state_dir = env.path(local.state_dir)
    out = []
    smtp_host = env.alerting.smtp_host
    if smtp_host in ("127.0.0.1", "localhost"):
        out.append(ServicePlan(
            "smtp", smtp_host, env.alerting.smtp_port,
            [sys.executable, "-m", "metricdag_localstack.smtp_sink", "--dir", str(state_dir / "mail"),
             "--host", smtp_host, "--port", str(env.alerting.smtp_port)],
            "METRICDAG_SMTP_PORT",
        ))
    pd_host, pd_port = _host_port(env.alerting.pagerduty_events_url, 80)
    if pd_host in ("127.0.0.1", "localhost"):
        out.append(ServicePlan(
            "pagerduty", pd_host, pd_port,
            [sys.executable, "-m", "metricdag_localstack.pagerduty_receiver", "--dir", str(state_dir / "pagerduty"),
             "--host", pd_host, "--port", str(pd_port)],
            "METRICDAG_PAGERDUTY_PORT",
            "/health",
        ))
    return out


def _sqlite_url(env: Environment, url: str) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
        return prefix + str(env.path(url[len(prefix):]))
    return url


def state_path(env: Environment) -> Path:
    return env.path(_require_local(env).state_dir) / STATE_FILE


def read_state(env: Environment) -> list[ServiceState]:
    path = state_path(env)
    if not path.is_file():
        return []
    return [ServiceState(**s) for s in json.loads(path.read_text())["services"]]


def _write_state(env: Environment, services: list[ServiceState]) -> None:
    path = state_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"environment": env.name, "services": [asdict(s) for s in services]}, indent=2))
    tmp.replace(path)


def service_up(s: ServiceState) -> bool:
    """The service's process runs and it accepts connections on its port."""
    return pid_alive(s.pid) and port_in_use(s.host, s.port)


def is_running(env: Environment) -> bool:
    services = read_state(env)
    return bool(services) and all(service_up(s) for s in services)


RESTART_HINT = "metricdag stack down && metricdag stack up"


def require_whole_stack(env: Environment) -> bool:
    """True when the stack runs, False when it is not started at all; a stack that runs only in
    part is an error naming the services that are down (restarting it here would hide the outage
    and pull the other services from under whatever is using them)."""
    services = read_state(env)
    if not services:
        return False
    dead = [s for s in services if not service_up(s)]
    if not dead:
        return True
    if len(dead) == len(services):
        return False  # left over from a crash: nothing of it runs
    names = ", ".join(f"{s.name} ({s.host}:{s.port}, log {s.log})" for s in dead)
    raise StackError(
        f"the local stack is only partly running: {names} {'is' if len(dead) == 1 else 'are'} down; "
        f"restart the stack with: {RESTART_HINT}"
    )


def up(env: Environment, timeout_s: float = 90) -> list[ServiceState]:
    """Start every service, wait for its health check; idempotent when already up. A stack that
    runs only in part is an error (:func:`require_whole_stack`), never restarted silently."""
    if require_whole_stack(env):
        return read_state(env)
    down(env)  # clear the state of a stack that died as a whole (an earlier crash)
    plans = plan(env)
    for p in plans:
        if port_in_use(p.host, p.port):
            move = f"choose another port with {p.port_env}" if p.port_env else "choose another port"
            raise StackError(
                f"cannot start {p.name}: port {p.port} on {p.host} is already in use by another process. "
                f"Stop that process, or {move}."
            )
    local = _require_local(env)
    state_dir = env.path(local.state_dir)
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    env.path(local.snowflake_db_dir).mkdir(parents=True, exist_ok=True)
    if any(p.name == "lambda" for p in plans):
        from metricdag.packaging import ensure_lambda_zip

        ensure_lambda_zip(lambda_zip_path(env).parent, env.project_root)  # the function's code, when stale
    started: list[ServiceState] = []
    try:
        for p in plans:
            log = state_dir / "logs" / f"{p.name}.log"
            proc = start_process(p.name, p.argv, log)
            started.append(ServiceState(p.name, proc.pid, p.host, p.port, str(log)))
            _write_state(env, started)
            wait_for_port(p.host, p.port, timeout_s, proc=proc, log_path=log, name=p.name)
            if p.health_path:
                _check_health(p, log)
        if any(p.name == "moto" for p in plans) and env.events is not None and env.events.source == "sqs":
            from metricdag.events.wiring import ensure

            ensure(env)  # the bucket, the queues, the bucket notifications
    except BaseException:
        for s in started:
            stop_process_group(s.pid)
        state_path(env).unlink(missing_ok=True)
        raise
    return started


def _check_health(p: ServicePlan, log: Path) -> None:
    url = f"http://{p.host}:{p.port}{p.health_path}"
    try:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise StackError(f"{p.name} service at {url} is not healthy: {exc} (log: {log})") from None


def down(env: Environment) -> list[str]:
    stopped = []
    for s in read_state(env):
        if pid_alive(s.pid):
            stop_process_group(s.pid)
            stopped.append(s.name)
    state_path(env).unlink(missing_ok=True)
    return stopped


def status(env: Environment) -> list[dict]:
    return [
        {"service": s.name, "address": f"{s.host}:{s.port}", "pid": s.pid,
         "status": "running" if service_up(s) else "down", "log": s.log}
        for s in read_state(env)
    ]
