"""The aws-local stack (moto S3/SQS, the Lambda Invoke API, and the local services) on free ports,
started once for the tests of this folder that need it.

Its variables are set for the module that uses it and put back afterwards: the ``local``
environment then resolves to the same Snowflake, catalog, token service and Legend stand-in, so a
test can run a metric in both environments against one Snowflake and compare what they loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from metricdag.localstack import stack
from metricdag.localstack.processes import free_port
from metricdag.settings import Environment, cached_environment, load_environment
from tests.conftest import PROJECT_ROOT

SAMPLE_ROWS = 2000  # as tests/conftest.py: enough for the review checks' minimums
PORTS = ("SNOWFLAKE", "CATALOG", "TOKEN", "LEGEND", "SMTP", "PAGERDUTY", "MOTO", "LAMBDA")


@dataclass(frozen=True)
class AwsLocalStack:
    aws: Environment  # aws-local: S3 and SQS on moto, the persister a packaged Lambda
    local: Environment  # local, on the same Snowflake and catalog (file:// object store, in-process persister)


def stack_environ(local_dir: str) -> dict[str, str]:
    return {
        "METRICDAG_LOCAL_DIR": local_dir,
        **{f"METRICDAG_{name}_PORT": str(free_port()) for name in PORTS},
        "METRICDAG_SNOWFLAKE_PASSWORD": "test-only",
        "METRICDAG_CLIENT_SECRET": os.environ.get("METRICDAG_CLIENT_SECRET") or "test-only-client-secret",
        "METRICDAG_SAMPLE_ROWS": str(SAMPLE_ROWS),
        "METRICDAG_ENV": "aws-local",
    }


@pytest.fixture(scope="module")
def aws_local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsLocalStack]:
    overrides = stack_environ(str(tmp_path_factory.mktemp("aws-local")))
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    cached_environment.cache_clear()
    aws = load_environment("aws-local", PROJECT_ROOT)
    try:
        stack.up(aws)
        yield AwsLocalStack(aws, load_environment("local", PROJECT_ROOT))
    finally:
        stack.down(aws)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cached_environment.cache_clear()
