"""The lock a blob and the rows naming it change under, one per sha256.

Identical uploads share one blob, so a delete must not remove bytes that an upload of the same
content has just stored but not yet named in a row. An upload therefore stores the blob and inserts
its row under the blob's lock, and a delete removes its row, finds no other row naming the blob and
removes the blob under it too. Within a process an asyncio lock per sha256 orders them. Processes
sharing the data dir or the object store (worker processes, ``parley ingest`` next to a server,
replicas on other machines over PostgreSQL and S3) order them with the database's lock named
``blob:<sha256>`` (``storage/locks.py``) as well, held by this process.

A holder that died holding the lock is found so and the lock taken back (``named_locks.py``). A
process that never beats (``parley ingest``) and dies on another machine holding a blob's lock
keeps it held: uploads of that one content then wait ``WAIT`` seconds and answer 503 until the
``locks`` row is removed.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractAsyncContextManager

from parley.errors import ServiceUnavailable
from parley.storage.heartbeats import Heartbeats
from parley.storage.locks import Locks
from parley.storage.named_locks import NamedLocks

WAIT = 300.0
"""Seconds to wait for another process's hold on a blob (it may be uploading a large one)."""


class BlobLocks:
    """Locks per sha256: in this process alone (no ``shared``), or also in the database, held by
    ``process`` (``processes.this_process``). The database's holder names this object too, so two
    servers built in one process (tests) never take one hold for their own."""

    def __init__(
        self, shared: Locks | None = None, process: str | None = None, heartbeats: Heartbeats | None = None
    ) -> None:
        holder = None if process is None else f"{process}#{secrets.token_hex(4)}"
        self._locks = NamedLocks(shared, holder, heartbeats)

    def hold(self, sha256: str, wait: float = WAIT) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(f"blob:{sha256}", wait, _busy)


def _busy() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Another server is storing or deleting a file with the same content; retry later.", code="file_busy"
    )
