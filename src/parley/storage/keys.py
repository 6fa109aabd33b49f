"""API keys: which owner a bearer token speaks for.

A key is shown once, when it is made, and only its SHA-256 digest is stored: a
leaked database does not leak working keys. A plain digest (no salt, no slow
hash) is enough because keys are 256 random bits, not passwords a dictionary
could guess, and it keeps the check per request to a dictionary lookup.

Keys are managed by whoever runs the server (``parley keys``), not through the
API, so they are found by id alone; the owner a key grants is the key's own.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

KEY_PREFIX = "sk-parley-"
SHOWN_CHARS = len(KEY_PREFIX) + 4
"""How much of a key ``parley keys list`` shows, to tell keys apart without revealing them."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    owner: str
    admin: bool
    name: str
    shown: str
    """The key's first characters, then an ellipsis: enough to recognise it, useless to use."""
    created_at: int
    revoked_at: int | None = None


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def shown(secret: str) -> str:
    return secret[:SHOWN_CHARS] + "…"


class KeyStore(Protocol):
    async def add(self, key: ApiKey, key_digest: str) -> None: ...

    async def active(self) -> dict[str, ApiKey]:
        """Every key not revoked, by digest."""
        ...

    async def all(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        ...

    async def revoke(self, key_id: str, when: int) -> bool:
        """False when no such key is active."""
        ...
