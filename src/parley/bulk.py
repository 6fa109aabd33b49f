"""``parley ingest``: load files from disk into a vector store, in bulk, resumably.

It works on the data dir directly (no server round trip per file): each file is
uploaded and attached through the same ``VectorStoreLibrary`` the API uses, so
it is parsed, chunked, embedded and indexed exactly as an uploaded file would be.
A file whose bytes the store already holds (by SHA-256) is skipped, so running
the command again after an interruption does only the work that is left. A server
may serve the same data dir meanwhile: its indexes take in what this process writes
(``retrieval/embedded_index.py``), and each file is ingested by one process only.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from parley.app import build_library, http_transport
from parley.config import Settings
from parley.retrieval.library import VectorStoreLibrary
from parley.storage.backends import open_stores


@dataclass
class Tally:
    queued: int = 0
    skipped: int = 0
    completed: int = 0
    failed: int = 0

    def line(self, store_name: str, store_id: str) -> str:
        return (
            f"{store_name} ({store_id}): {self.completed} ingested, {self.skipped} already there, "
            f"{self.failed} failed"
        )


def walk(paths: Sequence[Path]) -> Iterator[Path]:
    """Files under ``paths``, in a stable order; hidden files and folders are left out."""
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(path).parts
                if found.is_file() and not any(part.startswith(".") for part in relative):
                    yield found
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"No such file or directory: {path}")


async def ingest(
    settings: Settings, paths: Sequence[Path], store_name: str, owner: str, out: TextIO | None = None
) -> Tally:
    """``out``: where progress goes; standard error as it is at the call (not at import)."""
    out = sys.stderr if out is None else out
    stores = open_stores(settings.database_url, settings.data_dir)
    library = build_library(settings, stores, http_transport)
    try:
        return await _ingest(library, list(walk(paths)), store_name, owner, out)
    finally:
        await library.aclose()
        await stores.aclose()


async def _ingest(
    library: VectorStoreLibrary, files: list[Path], store_name: str, owner: str, out: TextIO
) -> Tally:
    store = await library.stores.find_by_name(store_name, owner)
    if store is None:
        store = await library.create_store(owner, name=store_name, metadata={}, expires_after_days=None)
    tally = Tally()
    with tqdm(total=len(files), unit="file", desc=f"ingest {store_name}", file=out) as bar:
        queued: list[str] = []
        for path in files:
            record, is_new = await library.add_path(owner, path, store.id)
            if is_new:
                queued.append(record.file_id)
            else:
                tally.skipped += 1
                bar.update()
        tally.queued = len(queued)
        await _follow(library, store.id, owner, queued, tally, bar)
    print(tally.line(store_name, store.id), file=out)
    return tally


async def _follow(
    library: VectorStoreLibrary, store_id: str, owner: str, queued: list[str], tally: Tally, bar: tqdm[Any]
) -> None:
    """Advance the bar as queued files finish (they finish about in order, so each look stops at the
    first one still in progress); count how they ended."""
    pending = dict.fromkeys(queued)
    while pending:
        await asyncio.sleep(0.1)
        for file_id in list(pending):
            record = await library.stores.get_file(store_id, file_id, owner)
            if record is not None and record.status == "in_progress":
                break
            del pending[file_id]
            if record is None:
                continue
            if record.status == "completed":
                tally.completed += 1
            else:
                tally.failed += 1
                bar.write(f"failed: {file_id}: {(record.last_error or {}).get('message')}", file=bar.fp)
            bar.update()
