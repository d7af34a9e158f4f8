"""Shared fixtures: an isolated local stack (own ports, own .local folder) per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from metricdag.settings import Environment, load_environment
from metricdag_localstack import stack
from metricdag_localstack.processes import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ROWS = 2000


PORTS = ("SNOWFLAKE", "CATALOG", "TOKEN", "LEGEND", "SMTP", "PAGERDUTY", "MOTO", "LAMBDA")


def stack_environ(local_dir: str, env_name: str) -> dict[str, str]:
    """The variables of a stack of ``env_name`` on free ports, its state under ``local_dir``."""
    return {
        "METRICDAG_LOCAL_DIR": local_dir,
        **{f"METRICDAG_{name}_PORT": str(free_port()) for name in PORTS},
        "METRICDAG_SNOWFLAKE_PASSWORD": "test-only",
        # Reuse a secret the session already set (tests/oauth_fixtures.py does the same), so every
        # token service and every subprocess of the session agree on one value.
        "METRICDAG_CLIENT_SECRET": os.environ.get("METRICDAG_CLIENT_SECRET") or "test-only-client-secret",
        "METRICDAG_SAMPLE_ROWS": str(SAMPLE_ROWS),
        "METRICDAG_ENV": env_name,
    }


@contextmanager
def environ(overrides: dict[str, str]) -> Iterator[None]:
    """``overrides`` set in this process's environment, and put back as they were afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in overrides.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """The local environment on free ports, with its state under a temp folder, stack running."""
    with environ(stack_environ(str(tmp_path_factory.mktemp("local")), "local")):
        env = load_environment("local", PROJECT_ROOT)
        try:
            stack.up(env)
            yield env
        finally:
            stack.down(env)


@pytest.fixture(scope="session")
def seeded_env(stack_env: Environment) -> Environment:
    from metricdag_localstack.seed import seed

    seed(stack_env)
    return stack_env


def copy_project(tmp: Path, metrics: list[str] | None = None) -> Path:
    """A throw-away project root with pipeline-configs and (some of) the metrics, to break freely."""
    shutil.copytree(PROJECT_ROOT / "pipeline-configs", tmp / "pipeline-configs")
    (tmp / ".dagster").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / ".dagster" / "dagster.yaml", tmp / ".dagster" / "dagster.yaml")
    for name in metrics or [p.name for p in (PROJECT_ROOT / "metrics").iterdir() if (p / "metric.yaml").is_file()]:
        shutil.copytree(PROJECT_ROOT / "metrics" / name, tmp / "metrics" / name)
    return tmp


@pytest.fixture(scope="session")
def snapshot_env(seeded_env: Environment, tmp_path_factory: pytest.TempPathFactory) -> Environment:
    """The seeded stack with the example nodes' snapshot datasets published and their configs registered."""
    from metricdag_testing.bootstrap import bootstrap
    from tests.jvm_support import session_jvm_cache

    bootstrap(seeded_env, jvm_cache=session_jvm_cache(tmp_path_factory))
    return seeded_env


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server (S3, SQS) on a free loopback port, shared by the session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture()
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials for moto (boto3 insists on some)."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)


STACK_FIXTURES = frozenset({"stack_env", "seeded_env", "snapshot_env", "aws_local_stack"})


def unmarked_stack_tests(items: list[pytest.Item]) -> list[str]:
    """Tests that request a local-stack fixture (directly or through other fixtures) without
    carrying ``@pytest.mark.stack``."""
    return [
        item.nodeid
        for item in items
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("stack") is None
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``pytest -m "not stack"`` is the fast set only if every stack test is marked: collection
    fails, naming the tests, when one is not."""
    unmarked = unmarked_stack_tests(items)
    if unmarked:
        raise pytest.UsageError(
            "these tests use the local stack (fixtures " + ", ".join(sorted(STACK_FIXTURES)) + ") but are not marked "
            "@pytest.mark.stack (or pytestmark = pytest.mark.stack):\n  " + "\n  ".join(unmarked)
        )
