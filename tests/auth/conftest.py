"""Fixtures of the auth tests: the real token service, test clients and minted tokens."""

from tests.oauth_fixtures import (  # noqa: F401  (fixtures)
    client_secrets,
    mint,
    test_key,
    test_verifier,
    token_service,
)
