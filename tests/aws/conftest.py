"""The aws-local stack (moto S3/SQS, the Lambda Invoke API, and the local services) on free ports,
started once for the tests of this folder that need it.

Its variables are set for the module that uses it and put back afterwards: the ``local``
environment then resolves to the same Snowflake, catalog, token service and Legend stand-in, so a
test can run a metric in both environments against one Snowflake and compare what they loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from metricdag.settings import Environment, cached_environment, load_environment
from metricdag_localstack import stack
from tests.conftest import PROJECT_ROOT, environ, stack_environ


@dataclass(frozen=True)
class AwsLocalStack:
    aws: Environment  # aws-local: S3 and SQS on moto, the persister a packaged Lambda
    local: Environment  # local, on the same Snowflake and catalog (file:// object store, in-process persister)


@pytest.fixture(scope="module")
def aws_local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsLocalStack]:
    with environ(stack_environ(str(tmp_path_factory.mktemp("aws-local")), "aws-local")):
        cached_environment.cache_clear()
        aws = load_environment("aws-local", PROJECT_ROOT)
        try:
            stack.up(aws)
            yield AwsLocalStack(aws, load_environment("local", PROJECT_ROOT))
        finally:
            stack.down(aws)
            cached_environment.cache_clear()  # later tests resolve their own environment
