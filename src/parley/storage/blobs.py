"""File bytes addressed by their SHA-256: the repository interface (``Blobs``) and its default, a
directory on local disk (``BlobStore``); ``s3_blobs.py`` keeps them in an S3-compatible object store.

A caller's filename never becomes a name: a blob is named ``<aa>/<sha256>``, so no name can escape
the store or collide with another file, and identical uploads share one blob. Either store first
stages an upload into a local temporary file (hashed and counted on the way, refused over its limit
before anything is stored), then commits it under its content name in one step, so a crash never
leaves half-written bytes under a real name.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from parley.errors import PayloadTooLarge
from parley.storage.blob_locks import BlobLocks

CHUNK = 1024 * 1024

BlobBody = Path | AsyncIterator[bytes]
"""A blob's bytes to send: a local file (the server sends it with sendfile), or a stream of pieces."""


@dataclass(frozen=True)
class Staged:
    """Bytes hashed into a local temporary file, not yet under their content name."""

    path: Path
    sha256: str
    size: int


class Blobs(Protocol):
    locks: BlobLocks
    """Held, per sha256, while a blob and the rows naming it change together (upload, delete), so a
    delete never removes bytes that a concurrent upload of the same content just claimed."""

    async def stage(self, source: BinaryIO, limit: int) -> Staged:
        """Copy and hash ``source`` into a local temporary file (the slow part, done outside
        ``locks``); over ``limit`` bytes: ``PayloadTooLarge`` (413), and nothing is kept."""

    async def commit(self, staged: Staged) -> None:
        """Store the staged bytes under their content name (under ``locks`` when a row will name them)."""

    async def discard(self, staged: Staged) -> None:
        """Drop the temporary file, if ``commit`` has not consumed it."""

    async def read(self, sha256: str) -> bytes:
        """The whole blob; ``FileNotFoundError`` when there is none."""

    async def open(self, sha256: str) -> BlobBody | None:
        """The blob to send without holding it whole in memory; None when there is none."""

    async def delete(self, sha256: str) -> None:
        """Remove the blob (under ``locks``, once no row names it); a missing one is no error."""


def check_sha256(sha256: str) -> str:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def stage_into(directory: Path, source: BinaryIO, limit: int) -> Staged:
    """Copy and hash ``source`` into a new temporary file in ``directory`` (blocking)."""
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while block := source.read(CHUNK):
                size += len(block)
                if size > limit:
                    raise PayloadTooLarge(limit)
                digest.update(block)
                out.write(block)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Staged(Path(tmp), digest.hexdigest(), size)


class BlobStore:
    """Blobs in a local directory, at ``<root>/<aa>/<sha256>``. A write goes to a temporary file in
    the same root and is renamed into place with ``os.replace``."""

    def __init__(self, root: Path, locks: BlobLocks | None = None) -> None:
        self.root = root
        self.locks = BlobLocks() if locks is None else locks

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / check_sha256(sha256)

    async def write(self, source: BinaryIO, limit: int) -> tuple[str, int]:
        """Copy ``source`` into the store; returns (sha256, size). Over ``limit`` bytes: 413."""
        staged = await self.stage(source, limit)
        await self.commit(staged)
        return staged.sha256, staged.size

    async def stage(self, source: BinaryIO, limit: int) -> Staged:
        return await asyncio.to_thread(stage_into, self.root, source, limit)

    async def commit(self, staged: Staged) -> None:
        target = self.path(staged.sha256)
        await asyncio.to_thread(target.parent.mkdir, exist_ok=True)
        await asyncio.to_thread(os.replace, staged.path, target)

    async def discard(self, staged: Staged) -> None:
        await asyncio.to_thread(staged.path.unlink, missing_ok=True)

    async def read(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path(sha256).read_bytes)

    async def open(self, sha256: str) -> BlobBody | None:
        path = self.path(sha256)
        return path if await asyncio.to_thread(path.is_file) else None

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path(sha256).unlink, missing_ok=True)
