"""File bytes in an S3-compatible object store (AWS S3, MinIO, Ceph, R2, ...), for replicas on
several machines that share one PostgreSQL and so must share the bytes too.

A blob is the object ``<prefix>/<aa>/<sha256>``. An upload is staged and hashed on local disk as
the local store does it, then put from that file (in parts, for large ones) and never read whole
into memory; a download streams the object in pieces. The endpoint, region and credentials come
from the standard AWS environment variables, as the AWS tools read them (obstore's ``from_env``).

An object store that cannot be reached, or that refuses, is a 503 naming it
(``ServiceUnavailable``, code ``object_store_unavailable``): the caller did nothing wrong, and
a retry later may succeed. A missing object is a missing blob (``FileNotFoundError``/None).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

from parley.errors import ServiceUnavailable
from parley.storage.blob_locks import BlobLocks
from parley.storage.blobs import CHUNK, BlobBody, Staged, check_sha256, stage_into

if TYPE_CHECKING:  # obstore's typed dicts exist for type checkers only
    from obstore.store import ClientConfig, RetryConfig

log = logging.getLogger(__name__)

PART = 8 * 1024 * 1024
"""Bytes per part of a multipart upload; smaller blobs go in one request."""
RETRIES = 3
"""Retries of a failed request (with backoff) before the object store counts as unavailable."""


def s3_location(url: str) -> tuple[str, str]:
    """The bucket and key prefix of ``s3://bucket/optional/prefix``; ValueError if it is not one."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"expected s3://bucket or s3://bucket/prefix, got {url!r}")
    return parts.netloc, parts.path.strip("/")


def s3_store(url: str, env: Mapping[str, str] = os.environ) -> S3Store:
    """The bucket of ``url``; obstore reads the endpoint, region and credentials from the AWS
    variables of the environment, and ``env``'s endpoint says whether plain http is allowed (as a
    MinIO on the local network serves it)."""
    bucket, _ = s3_location(url)
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or env.get("AWS_ENDPOINT") or ""
    options: ClientConfig = {
        "connect_timeout": timedelta(seconds=5),
        "read_timeout": timedelta(seconds=60),
        "timeout": timedelta(hours=1),  # the whole request: a download to a slow client
    }
    if endpoint.startswith("http://"):
        options["allow_http"] = True
    retry: RetryConfig = {"max_retries": RETRIES, "retry_timeout": timedelta(seconds=30)}
    return S3Store(bucket, client_options=options, retry_config=retry)  # the rest: from the environment


@contextmanager
def _reaching(what: str) -> Iterator[None]:
    """obstore's errors, translated where they enter Parley: a missing object is FileNotFoundError,
    anything else the object store's fault."""
    try:
        yield
    except NotFoundError as exc:
        raise FileNotFoundError(what) from exc
    except BaseError as exc:
        log.warning("object store: %s failed: %s", what, exc)
        raise ServiceUnavailable(
            "The object store holding file contents cannot be reached; retry later.",
            code="object_store_unavailable",
        ) from exc


class S3BlobStore:
    """Blobs as objects of one bucket, under ``prefix``; uploads are staged in ``staging`` first."""

    def __init__(self, store: S3Store, prefix: str, staging: Path, locks: BlobLocks | None = None) -> None:
        self._store, self._prefix, self._staging = store, prefix.strip("/"), staging
        self.locks = BlobLocks() if locks is None else locks

    @classmethod
    def from_url(cls, url: str, staging: Path, locks: BlobLocks | None = None) -> S3BlobStore:
        return cls(s3_store(url), s3_location(url)[1], staging, locks)

    def key(self, sha256: str) -> str:
        name = f"{sha256[:2]}/{check_sha256(sha256)}"
        return f"{self._prefix}/{name}" if self._prefix else name

    async def stage(self, source: BinaryIO, limit: int) -> Staged:
        return await asyncio.to_thread(stage_into, self._staging, source, limit)

    async def commit(self, staged: Staged) -> None:
        key = self.key(staged.sha256)
        with _reaching(f"put {key}"):
            await obstore.put_async(self._store, key, staged.path, chunk_size=PART)
        await self.discard(staged)

    async def discard(self, staged: Staged) -> None:
        await asyncio.to_thread(staged.path.unlink, missing_ok=True)

    async def read(self, sha256: str) -> bytes:
        key = self.key(sha256)
        with _reaching(key):
            found = await obstore.get_async(self._store, key)
            return bytes(await found.bytes_async())

    async def open(self, sha256: str) -> BlobBody | None:
        key = self.key(sha256)
        try:
            with _reaching(key):
                found = await obstore.get_async(self._store, key)
        except FileNotFoundError:
            return None
        return _pieces(key, found.stream(min_chunk_size=CHUNK))

    async def delete(self, sha256: str) -> None:
        key = self.key(sha256)
        try:
            with _reaching(f"delete {key}"):
                await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            pass  # gone already: what a delete wants


async def _pieces(key: str, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The object's pieces; a failure after the first has been sent can only cut the response short."""
    with _reaching(key):
        async for piece in stream:
            yield bytes(piece)
