"""Where credentials may travel: ``https://`` anywhere, plain ``http://`` only to a loopback host.

requests-oauthlib's own switch (``OAUTHLIB_INSECURE_TRANSPORT``) allows plain HTTP to every
host for the whole process; this rule is narrower and is checked per URL.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_problem(url: str) -> str | None:
    """Why ``url`` must not carry a token or a client secret, or None when it may."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        if is_loopback_host(host):
            return None
        return f"{url} uses plain http to {host}: only loopback hosts (127.0.0.1, ::1, localhost) may use http, use https"
    return f"{url!r} is not an http(s) URL with a host"


def require_secure_transport(url: str) -> str:
    """``url`` itself, or ``ValueError`` saying why it may not carry credentials."""
    problem = transport_problem(url)
    if problem:
        raise ValueError(problem)
    return url
