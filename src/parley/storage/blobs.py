"""File bytes on disk, addressed by their SHA-256.

A caller's filename never becomes a path: a blob lives at ``<root>/<aa>/<sha256>``, so no name
can escape the root or collide with another file. A write goes to a temporary file in the same
root and is renamed into place with ``os.replace``, so a crash never leaves a half-written blob
under a real name, and identical uploads share one blob.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from parley.errors import PayloadTooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Staged:
    """Bytes hashed into a temporary file in the root, not yet under their content name."""

    path: Path
    sha256: str
    size: int


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = asyncio.Lock()
        """Held while a blob and the rows naming it change together (upload, delete), so a
        delete never removes bytes that a concurrent upload of the same content just claimed."""

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    async def write(self, source: BinaryIO, limit: int) -> tuple[str, int]:
        """Copy ``source`` into the store; returns (sha256, size). Over ``limit`` bytes: 413."""
        staged = await self.stage(source, limit)
        await self.commit(staged)
        return staged.sha256, staged.size

    async def stage(self, source: BinaryIO, limit: int) -> Staged:
        """Copy and hash ``source`` into a temporary file (the slow part, done outside ``lock``)."""
        return await asyncio.to_thread(self._stage, source, limit)

    def _stage(self, source: BinaryIO, limit: int) -> Staged:
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
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

    async def commit(self, staged: Staged) -> None:
        """Rename the staged bytes into place (under ``lock`` when a row will name them)."""
        target = self.path(staged.sha256)
        await asyncio.to_thread(target.parent.mkdir, exist_ok=True)
        await asyncio.to_thread(os.replace, staged.path, target)

    async def discard(self, staged: Staged) -> None:
        await asyncio.to_thread(staged.path.unlink, missing_ok=True)

    async def read(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path(sha256).read_bytes)

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path(sha256).unlink, missing_ok=True)
