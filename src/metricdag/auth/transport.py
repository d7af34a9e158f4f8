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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split_strictly(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, decoded path) when both URL parsers in play (urllib's, and urllib3's,
    which requests uses to send) read ``url`` the same way and it has no user info, backslash,
    control character or dot segment; else None."""
    from urllib.parse import unquote

    from urllib3.util import parse_url

    if any(not ("!" <= c <= "~") for c in url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        other = parse_url(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    port = port or _DEFAULT_PORTS[scheme]
    if (other.scheme or "").lower() != scheme or (other.host or "").lower().strip("[]") != host.lower():
        return None
    if (other.port or _DEFAULT_PORTS[scheme]) != port:
        return None
    path = unquote(parts.path) or "/"
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    return scheme, host.lower(), port, path


def is_under(url: str, base: str) -> bool:
    """True when ``url`` is on ``base``'s origin (scheme, host, port) and under its path
    (``https://h/api`` covers ``https://h/api`` and ``https://h/api/...``, not ``https://h/apix``)."""
    got, want = _split_strictly(url), _split_strictly(base)
    if got is None or want is None or got[:3] != want[:3]:
        return False
    prefix = want[3].rstrip("/") + "/"
    return got[3] == want[3].rstrip("/") or got[3].startswith(prefix)


def first_base_covering(url: str, bases: list[str] | tuple[str, ...]) -> str | None:
    """The first of ``bases`` that ``url`` is under (:func:`is_under`), or None."""
    return next((base for base in bases if is_under(url, base)), None)
