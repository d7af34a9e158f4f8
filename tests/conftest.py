"""Shared fixtures: an isolated local stack (own ports, own .local folder) per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricdag.localstack import stack
from metricdag.localstack.processes import free_port
from metricdag.settings import Environment, load_environment

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ROWS = 2000


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    """The local environment on free ports, with its state under a temp folder, stack running."""
    local_dir = tmp_path_factory.mktemp("local")
    overrides = {
        "METRICDAG_LOCAL_DIR": str(local_dir),
        "METRICDAG_SNOWFLAKE_PORT": str(free_port()),
        "METRICDAG_CATALOG_PORT": str(free_port()),
        "METRICDAG_TOKEN_PORT": str(free_port()),
        "METRICDAG_LEGEND_PORT": str(free_port()),
        "METRICDAG_SNOWFLAKE_PASSWORD": "test-only",
        "METRICDAG_CLIENT_SECRET": "test-only-client-secret",
        "METRICDAG_SAMPLE_ROWS": str(SAMPLE_ROWS),
        "METRICDAG_ENV": "local",
    }
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    env = load_environment("local", PROJECT_ROOT)
    try:
        stack.up(env)
        yield env
    finally:
        stack.down(env)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def seeded_env(stack_env: Environment) -> Environment:
    from metricdag.localstack.seed import seed

    seed(stack_env)
    return stack_env


def copy_project(tmp: Path, metrics: list[str] | None = None) -> Path:
    """A throw-away project root with pipeline-configs and (some of) the metrics, to break freely."""
    shutil.copytree(PROJECT_ROOT / "pipeline-configs", tmp / "pipeline-configs")
    for name in metrics or [p.name for p in (PROJECT_ROOT / "metrics").iterdir() if (p / "metric.yaml").is_file()]:
        shutil.copytree(PROJECT_ROOT / "metrics" / name, tmp / "metrics" / name)
    return tmp
