"""Reasoning that only this deployment can read back: authenticated encryption for stateless turns.

Clients that keep no server state (``store: false``, the Codex CLI) carry the
model's reasoning between turns as an opaque ``encrypted_content`` string. It
is sealed with AES-256-GCM under a key from the config, else generated once into
the data dir (or, for replicas over one PostgreSQL, into the database they
share, fetched as the server starts), so it is never plaintext on the client, a tampered copy is
detected, and reasoning sealed elsewhere (e.g. by OpenAI) is recognised as
foreign by its prefix and skipped.

Each blob is sealed for one ``purpose`` (bound in as associated data), so a
blob sealed as reasoning does not open as a compaction summary and the
other way round: a client cannot replay one kind of opaque content as another.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "parley-rs1."
_NONCE_BYTES = 12

FetchKey = Callable[[], Awaitable[bytes]]


def _aad(purpose: str) -> bytes:
    """``b"parley reasoning v1"`` for reasoning: what every blob sealed before purposes existed used."""
    return f"parley {purpose} v1".encode()


class Tampered(ValueError):
    """The content carries Parley's prefix but does not decrypt under this deployment's key."""


def _cipher(key: bytes) -> AESGCM:
    if len(key) != 32:
        raise ValueError("the reasoning key must be 32 bytes")
    return AESGCM(key)


class ReasoningSealer:
    """Keyed at once, or, given ``FetchKey`` (a key held in a database, which the app is composed
    before it can reach), by ``start``: the app's lifespan awaits it, and so does each turn, for
    apps run without one; after the first it returns at once."""

    def __init__(self, key: bytes | FetchKey) -> None:
        self._fetch_key: FetchKey | None = None
        self._keyed: AESGCM | None = None
        self._fetching: asyncio.Lock | None = None
        if isinstance(key, bytes):
            self._keyed = _cipher(key)
        else:
            self._fetch_key = key

    async def start(self) -> None:
        """Fetch the key, once, if it is not here yet."""
        if self._keyed is not None:
            return
        self._fetching = self._fetching or asyncio.Lock()
        async with self._fetching:
            if self._keyed is None and self._fetch_key is not None:
                self._keyed = _cipher(await self._fetch_key())

    @property
    def _aead(self) -> AESGCM:
        if self._keyed is None:
            raise RuntimeError("the reasoning key is fetched by ReasoningSealer.start, not yet awaited")
        return self._keyed

    def seal(self, text: str, purpose: str = "reasoning") -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, text.encode(), _aad(purpose))
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    @staticmethod
    def is_ours(content: str) -> bool:
        return content.startswith(PREFIX)

    def open(self, content: str, purpose: str = "reasoning") -> str:
        try:
            raw = base64.urlsafe_b64decode(content[len(PREFIX) :].encode())
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(purpose)).decode()
        except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError):
            raise Tampered("encrypted_content was not produced by this server or has been altered") from None


def load_or_create_key(configured: str | None, path: Path) -> bytes:
    """The configured key (base64), else the one in ``path``, else a new one written there (0600)."""
    if configured:
        key = base64.b64decode(configured)
        if len(key) != 32:
            raise ValueError("reasoning_key must be 32 bytes, base64-encoded")
        return key
    if path.exists():
        return base64.b64decode(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    # Written whole under another name, then linked into place: processes starting together (the
    # workers of one server) each either place their key or find one already whole there, never a
    # file still being written.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:  # another process placed its key first: that one is the key
        return base64.b64decode(path.read_text().strip())
    finally:
        draft.unlink()
    return key
