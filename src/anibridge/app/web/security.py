"""Credential primitives: password hashing, tokens, constant-time checks.

Pure functions, no I/O. Passwords are low-entropy, so they go through scrypt (stdlib
`hashlib.scrypt`, memory-hard; no extra dependency). API tokens and session ids are 256
random bits, so a single SHA-256 is enough to store them: brute-forcing the preimage is
hopeless, and verification stays cheap on every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "TOKEN_PREFIX",
    "generate_password",
    "hash_password",
    "hash_token",
    "new_token",
    "same",
    "verify_password",
]

TOKEN_PREFIX = "abt_"
# scrypt cost: n=2**15, r=8 uses 32 MiB and ~50-100 ms per check on a small server.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = _SCRYPT_N) -> str:
    """Hash a password as ``scrypt$n$r$p$salt$hash`` (self-describing: costs can grow).

    Raises:
        ValueError: the password is empty.
    """
    if not password:
        raise ValueError("password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=n,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=_SCRYPT_MAXMEM,
        dklen=32,
    )
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against `hash_password` output in constant time."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def generate_password() -> str:
    """A random admin password a person can still type (about 120 bits)."""
    return secrets.token_urlsafe(15)


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    """A fresh 256-bit bearer secret; the prefix makes leaked tokens greppable."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Storage form of a high-entropy token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time equality for secrets of any type."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
