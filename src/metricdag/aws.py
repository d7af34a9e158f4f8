"""The one way metricdag makes a boto3 client (S3, SQS, Lambda).

Credentials come from boto3's default chain (environment variables, profile, instance or task
role), as everywhere in AWS. A *loopback* endpoint (moto's server on the local stack) accepts any
credentials: unless ``AWS_ACCESS_KEY_ID`` is set, moto's documented test pair ``testing``/``testing``
is used for it — a non-secret test value, never sent to a real AWS endpoint.

Clients are made once per process for each (service, endpoint, region): boto3 clients are
thread-safe, and making one costs about 80 ms here.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto takes any


def is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and (urlsplit(endpoint_url).hostname or "") in LOOPBACK_HOSTS


def client(service: str, endpoint_url: str | None = None, region: str = "us-east-1") -> Any:
    """A boto3 client for ``service`` at ``endpoint_url`` (None: AWS itself) in ``region``."""
    test_pair = is_loopback(endpoint_url) and "AWS_ACCESS_KEY_ID" not in os.environ
    return _client(service, endpoint_url, region, test_pair, os.getpid())


@lru_cache(maxsize=64)
def _client(service: str, endpoint_url: str | None, region: str, test_pair: bool, pid: int) -> Any:
    import boto3

    extra = dict(TEST_CREDENTIALS) if test_pair else {}
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, region_name=region, **extra)
