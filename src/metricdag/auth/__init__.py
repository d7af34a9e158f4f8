"""OAuth2 client credentials: the local token service, JWT signing and verification, the client session.

- :mod:`.transport`: which URLs may carry credentials (https, or plain http on loopback only)
- :mod:`.clients`: the registered clients of the local token service (``pipeline-configs/auth/clients.yaml``)
- :mod:`.keys`: the RS256 signing key pair and its JWKS form
- :mod:`.tokens`: issuing and verifying access tokens (signature, expiry, issuer, audience, scopes)
- :mod:`.token_service`: the stand-in token service (``POST /oauth/token``, ``/.well-known/jwks.json``)
- :mod:`.middleware`: bearer-token enforcement for the services (401 / 403, never 5xx)
- :mod:`.session`: the requests-oauthlib session clients use (fetches and refreshes tokens)
"""
