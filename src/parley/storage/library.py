"""Repository interfaces of file_search: stored files, vector stores and the files in them.

What the Files and Vector Stores APIs and the ingestion pipeline need from storage, as records
and Protocols that each backend implements (the conventions of ``storage/base.py`` hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from parley.storage.background import Claim
from parley.storage.base import Order, Page


@dataclass(frozen=True)
class FileRecord:
    """An uploaded file's metadata; its bytes live in the blob store under ``sha256``.

    The filename is metadata only, never a path: bytes are addressed by content hash.
    """

    id: str
    filename: str
    bytes: int
    purpose: str
    created_at: int
    expires_at: int | None
    sha256: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


class FileStore(Protocol):
    """File rows, scoped by owner; an expired file reads as missing everywhere."""

    async def add(self, record: FileRecord, owner: str) -> None: ...

    async def get(self, file_id: str, owner: str) -> FileRecord | None: ...

    async def get_many(self, file_ids: list[str], owner: str) -> dict[str, FileRecord]: ...

    async def delete(self, file_id: str, owner: str) -> FileRecord | None:
        """Remove the row; the caller drops the blob once ``sha256_in_use`` says nobody else needs it."""

    async def sha256_in_use(self, sha256: str) -> bool: ...

    async def find_by_sha256(self, sha256: str, owner: str) -> list[FileRecord]:
        """Live files of this owner with these bytes (lets a bulk ingest skip what it already has)."""

    async def list(
        self, owner: str, *, purpose: str | None, after: str | None, limit: int, order: Order
    ) -> Page: ...


VectorStoreFileStatus = Literal["in_progress", "completed", "failed", "cancelled"]
FILE_STATUSES: tuple[VectorStoreFileStatus, ...] = ("in_progress", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class VectorStoreRecord:
    """A vector store as stored, plus its file counts; ``wire(now)`` derives status and expiry.

    ``embedding_model``/``embedding_dimension`` are fixed at creation: every vector in the
    store's index comes from that model, so queries must be embedded with it too.
    """

    id: str
    name: str
    created_at: int
    last_active_at: int
    metadata: dict[str, str]
    expires_after_days: int | None
    embedding_model: str
    embedding_dimension: int
    file_counts: dict[str, int] = field(default_factory=dict)
    usage_bytes: int = 0

    def expires_at(self) -> int | None:
        if self.expires_after_days is None:
            return None
        return self.last_active_at + self.expires_after_days * 86400

    def expired(self, now: int) -> bool:
        expires_at = self.expires_at()
        return expires_at is not None and expires_at <= now

    def wire(self, now: int) -> dict[str, Any]:
        counts = {status: self.file_counts.get(status, 0) for status in FILE_STATUSES}
        status = "expired" if self.expired(now) else "in_progress" if counts["in_progress"] else "completed"
        days = self.expires_after_days
        return {
            "id": self.id,
            "object": "vector_store",
            "created_at": self.created_at,
            "name": self.name,
            "usage_bytes": self.usage_bytes,
            "file_counts": {**counts, "total": sum(counts.values())},
            "status": status,
            "expires_after": None if days is None else {"anchor": "last_active_at", "days": days},
            "expires_at": self.expires_at(),
            "last_active_at": self.last_active_at,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class VectorStoreFileRecord:
    """One file's membership of one vector store, with its ingestion state (always the truth)."""

    vector_store_id: str
    file_id: str
    created_at: int
    status: VectorStoreFileStatus
    attributes: dict[str, str | float | bool]
    chunking_strategy: dict[str, Any]
    sha256: str
    last_error: dict[str, str] | None = None
    usage_bytes: int = 0
    batch_id: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.file_id,
            "object": "vector_store.file",
            "created_at": self.created_at,
            "vector_store_id": self.vector_store_id,
            "status": self.status,
            "last_error": self.last_error,
            "usage_bytes": self.usage_bytes,
            "attributes": self.attributes,
            "chunking_strategy": self.chunking_strategy,
        }


@dataclass(frozen=True)
class FileBatchRecord:
    id: str
    vector_store_id: str
    created_at: int
    cancelled: bool
    file_counts: dict[str, int] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        """``cancelled`` once cancelled; else in_progress while any file is; ``failed`` if all failed."""
        counts = {status: self.file_counts.get(status, 0) for status in FILE_STATUSES}
        total = sum(counts.values())
        if self.cancelled:
            status = "cancelled"
        elif counts["in_progress"]:
            status = "in_progress"
        else:
            status = "failed" if total and counts["failed"] == total else "completed"
        return {
            "id": self.id,
            "object": "vector_store.files_batch",
            "created_at": self.created_at,
            "vector_store_id": self.vector_store_id,
            "status": status,
            "file_counts": {**counts, "total": total},
        }


@dataclass(frozen=True)
class FileListQuery:
    """A page request over a vector store's files (or one batch's)."""

    status: VectorStoreFileStatus | None = None
    batch_id: str | None = None
    after: str | None = None
    before: str | None = None
    limit: int = 20
    order: Order = "desc"


class VectorStoreStore(Protocol):
    """Vector stores, their files and file batches, scoped by owner.

    The chunks themselves live in the store's ``ChunkIndex``; this is the metadata beside it.
    A file ``in_progress`` is ingested by one worker process at a time: the one holding its claim
    (a worker id and a lease its heartbeat renews, as background jobs do in ``background.py``).
    """

    async def create(self, record: VectorStoreRecord, owner: str) -> None: ...

    async def get(self, store_id: str, owner: str) -> VectorStoreRecord | None: ...

    async def find_by_name(self, name: str, owner: str) -> VectorStoreRecord | None:
        """The newest store of this owner with this name."""

    async def update(self, store_id: str, owner: str, changes: dict[str, Any]) -> VectorStoreRecord | None:
        """Apply ``name``, ``metadata`` and/or ``expires_after_days``; None when missing."""

    async def touch(self, store_id: str, owner: str, now: int) -> None:
        """Mark the store used now (``last_active_at``, the anchor of its expiry)."""

    async def delete(self, store_id: str, owner: str) -> bool: ...

    async def attach(
        self, files: list[VectorStoreFileRecord], owner: str, claim: Claim | None = None
    ) -> None:
        """Insert or reset (to the given state) each file's membership, in one transaction; with
        ``claim``, claimed for ingestion by that worker in the same transaction."""

    async def get_file(self, store_id: str, file_id: str, owner: str) -> VectorStoreFileRecord | None: ...

    async def list_files(
        self, store_id: str, owner: str, query: FileListQuery
    ) -> tuple[list[VectorStoreFileRecord], bool]: ...

    async def finish_file(self, record: VectorStoreFileRecord, owner: str, worker: str | None = None) -> bool:
        """Record the outcome of ingesting a file still ``in_progress``; False if it no longer is,
        or, given ``worker``, if another worker holds its claim now (it took the file over)."""

    async def set_attributes(
        self, store_id: str, file_id: str, owner: str, attributes: dict[str, str | float | bool]
    ) -> VectorStoreFileRecord | None: ...

    async def detach(self, store_id: str, file_id: str, owner: str) -> bool: ...

    async def stores_of_file(self, file_id: str, owner: str) -> list[str]: ...

    async def find_file_by_sha256(
        self, store_id: str, sha256: str, owner: str
    ) -> VectorStoreFileRecord | None: ...

    async def unfinished(self) -> list[tuple[str, VectorStoreFileRecord]]:
        """Every (owner, file) left ``in_progress``, e.g. by a restart, so ingestion can resume."""

    async def claim_unfinished(self, worker: str, lease: float) -> list[tuple[str, VectorStoreFileRecord]]:
        """Every (owner, file) ``in_progress`` that no live worker holds (never claimed, released, or
        its lease ran out), oldest first, now claimed by ``worker`` for ``lease`` seconds."""

    async def renew_claims(self, worker: str, lease: float) -> None:
        """Extend ``worker``'s claims on the files it is ingesting by ``lease`` seconds from now."""

    async def release_claims(self, worker: str) -> None:
        """Give up ``worker``'s claims (it stops): another worker may take the files at once."""

    async def create_batch(self, batch: FileBatchRecord, owner: str) -> None: ...

    async def get_batch(self, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None: ...

    async def cancel_batch(self, store_id: str, batch_id: str, owner: str) -> FileBatchRecord | None:
        """Mark the batch cancelled and its in-progress files ``cancelled``."""

    async def list(
        self, owner: str, *, after: str | None, before: str | None, limit: int, order: Order
    ) -> tuple[list[VectorStoreRecord], bool]: ...
