"""A lean HTTP/1.1 load client: one keep-alive connection per slot, bytes in and out, no parsing
beyond what finds the end of an answer.

A benchmark's client shares the machine's cores with the servers it measures. httpx costs several
times what a paced stream costs the upstream, so on 2 cores it, not the server, sets the rate; this
client spends about one read per TCP segment. Answers are checked (status 200, and the bytes the
caller says must end it), never parsed.
"""

from __future__ import annotations

import asyncio

import orjson

CHUNKED_END = b"\r\n0\r\n\r\n"


class Failed(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, object], must_end: bytes) -> None:
        """POST ``body`` as JSON and read the whole answer, which must be 200 and end with ``must_end``
        (within its last 64 bytes)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        data = orjson.dumps(body)
        head = f"POST {path} HTTP/1.1\r\nhost: {self._host}\r\ncontent-type: application/json\r\n"
        self._writer.write(f"{head}content-length: {len(data)}\r\n\r\n".encode() + data)
        headers = await self._reader.readuntil(b"\r\n\r\n")
        if not headers.startswith(b"HTTP/1.1 200"):
            raise Failed(headers.decode(errors="replace"))
        tail = await self._body(headers.lower())
        if must_end not in tail[-64:]:
            raise Failed(f"{path} ended with {tail[-64:]!r}")

    async def _body(self, headers: bytes) -> bytes:
        assert self._reader is not None
        if b"transfer-encoding: chunked" in headers:
            tail = b""
            while not tail.endswith(CHUNKED_END):
                block = await self._reader.read(65536)
                if not block:
                    raise Failed("connection closed mid-answer")
                tail = (tail + block)[-256:]
            return tail[: -len(CHUNKED_END)]
        length = int(headers.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        return await self._reader.readexactly(length)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
