"""The token service's RS256 signing key: generated once, kept under the local state folder.

The private key is a PKCS#8 PEM file readable by its owner only (``0600``); its key id
(``kid``) is the RFC 7638 thumbprint of the public key, so the same key always has the same id
and a verifier can tell a rotated key from a known one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from metricdag.auth.tokens import ALGORITHM
from metricdag.errors import ConfigError

KEY_FILE = "signing-key.pem"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA public key."""
    numbers = public_key.public_numbers()
    canonical = json.dumps({"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> "SigningKey":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(private, key_id(private.public_key()))

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set a verifier fetches from ``/.well-known/jwks.json``."""
        return {"keys": [self.public_jwk()]}

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _load(path: Path) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the signing key {path}: {exc} (delete it to generate a new one)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path} is not an RSA private key (delete it to generate a new one)")
    return SigningKey(key, key_id(key.public_key()))


def load_or_create_signing_key(key_dir: Path) -> SigningKey:
    """The key in ``key_dir/signing-key.pem``, created (owner-only) on first use.

    Safe when two processes start at once: the file is linked into place atomically and the
    loser of the race loads the winner's key.
    """
    path = Path(key_dir) / KEY_FILE
    if path.is_file():
        return _load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = SigningKey.generate()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing-key.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.private_pem())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _load(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return key
