"""The one way metricdag makes a boto3 client (S3, SQS, Lambda).

Credentials come from boto3's default chain (environment variables, profile, instance or task
role), as everywhere in AWS. A *loopback* endpoint (moto's server on the local stack) accepts any
credentials: when the chain finds none, moto's documented test pair ``testing``/``testing`` is
used for it — a non-secret test value, never used for a real AWS endpoint.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto takes any


def is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and (urlsplit(endpoint_url).hostname or "") in LOOPBACK_HOSTS


def client(service: str, endpoint_url: str | None = None, region: str = "us-east-1") -> Any:
    """A boto3 client for ``service`` at ``endpoint_url`` (None: AWS itself) in ``region``."""
    import boto3

    session = boto3.session.Session(region_name=region)
    extra: dict[str, str] = {}
    if is_loopback(endpoint_url) and session.get_credentials() is None:
        extra = dict(TEST_CREDENTIALS)
    return session.client(service, endpoint_url=endpoint_url, region_name=region, **extra)
