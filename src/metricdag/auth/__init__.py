"""OAuth2 client credentials, the platform's side: the client session, and token verification
for the services that take tokens. The token service itself (issuing, signing keys, registered
clients) is the ``metricdag-token-service`` distribution (:mod:`metricdag_token_service`).

- :mod:`.transport`: which URLs may carry credentials (https, or plain http on loopback only)
- :mod:`.session`: the requests-oauthlib session clients use (fetches and refreshes tokens)
- :mod:`.tokens`: verifying access tokens (signature, expiry, issuer, audience, scopes)
- :mod:`.middleware`: bearer-token enforcement for the services (401 / 403, never 5xx)
"""
