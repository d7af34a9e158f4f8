"""Fixtures of the sourcing tests: the real token service and test clients."""

from tests.oauth_fixtures import client_secrets, token_service  # noqa: F401  (fixtures)
