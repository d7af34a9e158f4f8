"""Property-based fuzzing of the catalog's OpenAPI document (schemathesis): valid and invalid
requests for every operation, with a read+write token, never get a 5xx.

Bounded to stay fast: ``MAX_EXAMPLES`` per operation, deterministic, no example database. The
service runs in process over one SQLite file shared by all examples, so later requests meet the
data earlier ones stored.
"""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from metricdag.auth.tokens import StaticKeys, TokenVerifier
from metricdag_catalog_service.app import create_app
from metricdag_token_service.keys import SigningKey
from metricdag_token_service.tokens import issue_token

MAX_EXAMPLES = 25
ISSUER = "https://token.fuzz"
KEY = SigningKey.generate()

_folder = tempfile.TemporaryDirectory(prefix="catalog-fuzz-")  # removed when the test process ends
app = create_app(f"sqlite:///{_folder.name}/catalog.db", TokenVerifier(StaticKeys.of(KEY), ISSUER, "metricdag"))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES, deterministic=True
)


def token() -> str:
    scopes = ["catalog:read", "catalog:write"]
    return issue_token(KEY, issuer=ISSUER, audience="metricdag", subject="fuzz", scopes=scopes, ttl_s=600)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token()}"}, checks=[not_a_server_error])
