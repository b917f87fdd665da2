"""Password hashes: argon2id with OWASP's parameters; old scrypt hashes still verify.

New hashes are argon2id (``argon2-cffi``) with the OWASP Password Storage Cheat
Sheet's first recommended setting: 19 MiB of memory, 2 iterations, 1 lane. A
hash names its own parameters, so raising them later does not lock anyone out:
``needs_rehash`` says when a stored hash is older than today's setting, and the
sign-in rewrites it once the password is known to be right.

Hashes made before argon2id (``scrypt$N$r$p$salt$hash``, any N) verify as before,
with as much memory as their own parameters need.
"""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP: argon2id, m = 19 MiB (19,456 KiB), t = 2, p = 1.
ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM = 19_456, 2, 1
# A password hash no password matches: users who only sign in through the OIDC provider.
NO_PASSWORD = "!"
# scrypt hashes from before argon2id: refuse parameters no real setting used (memory bomb).
_SCRYPT_MAX_MEMORY = 1024 * 1024 * 1024

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with a fresh random salt (PHC string ``$argon2id$…``)."""
    return _hasher.hash(password)


def _check_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n_text, r_text, p_text, salt_hex, hash_hex = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        expected = bytes.fromhex(hash_hex)
        if scheme != "scrypt" or min(n, r, p) < 1:
            return False
        need = 128 * r * (n + p + 2)  # what hashlib.scrypt allocates for these parameters
        if need > _SCRYPT_MAX_MEMORY:
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=n,
            r=r,
            p=p,
            dklen=len(expected),
            maxmem=need + 1024 * 1024,
        )
    except (ValueError, TypeError, OverflowError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (argon2id or legacy scrypt; False for any bad format)."""
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    if stored.startswith("scrypt$"):
        return _check_scrypt(password, stored)
    return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified should be rewritten with today's argon2id setting."""
    if stored == NO_PASSWORD:
        return False
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True
