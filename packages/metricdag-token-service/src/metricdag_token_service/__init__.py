"""The OAuth2 token service (client credentials): ``python -m metricdag_token_service``.

- :mod:`.clients`: the registered clients (``pipeline-configs/auth/clients.yaml``)
- :mod:`.keys`: the RS256 signing key pair and its JWKS form
- :mod:`.tokens`: issuing access tokens
- :mod:`.app`: the service (``POST /oauth/token``, ``/.well-known/jwks.json``)

Services verify its tokens with :mod:`metricdag.auth.tokens` and :mod:`metricdag.auth.middleware`.
"""
