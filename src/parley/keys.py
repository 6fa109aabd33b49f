"""``parley keys create|list|revoke``: the API keys of a data dir, managed by whoever runs the server.

They work on the database directly, so a running server sees a new key at once and stops
accepting a revoked one within a second (``api/auth.KeyRing`` re-reads the keys).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from parley.config import Settings
from parley.ids import new_id
from parley.storage.backends import open_stores
from parley.storage.keys import ApiKey, KeyStore, digest, new_secret, shown

T = TypeVar("T")


async def _with_store(settings: Settings, work: Callable[[KeyStore], Awaitable[T]]) -> T:
    stores = open_stores(settings.database_url, settings.data_dir)
    try:
        return await work(stores.keys)
    finally:
        await stores.aclose()


async def create(settings: Settings, owner: str, *, admin: bool, name: str) -> tuple[ApiKey, str]:
    """A new key for ``owner``: its record, and the key itself (shown this once, never stored)."""
    secret = new_secret()
    key = ApiKey(new_id("key"), owner, admin, name, shown(secret), int(time.time()))

    async def add(store: KeyStore) -> None:
        await store.add(key, digest(secret))

    await _with_store(settings, add)
    return key, secret


async def listing(settings: Settings) -> list[ApiKey]:
    return await _with_store(settings, lambda store: store.all())


async def revoke(settings: Settings, key_id: str) -> bool:
    return await _with_store(settings, lambda store: store.revoke(key_id, int(time.time())))


async def active_count(settings: Settings) -> int:
    """Keys in force at start-up, those of the config file included: none means auth is off."""
    stored = await _with_store(settings, lambda store: store.active())
    return len(stored) + len(settings.api_keys)


def describe(key: ApiKey) -> str:
    """One line of ``parley keys list``."""
    state = "revoked" if key.revoked_at is not None else "active"
    role = "admin" if key.admin else "user"
    created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(key.created_at))
    label = f"  {key.name}" if key.name else ""
    return f"{key.id}  {key.shown}  owner={key.owner}  {role}  {state}  created {created} UTC{label}"
