"""Request bodies past ``max_request_bytes`` are refused with 413, never read whole.

An ASGI middleware, so every route is covered however it reads its body: a ``Content-Length``
over the limit is answered before a byte of the body is read, and a body without one (chunked)
is counted as it arrives and refused as soon as it passes the limit. Uploads to ``/v1/files``
have a limit of their own (``max_file_bytes``, checked the same way in ``api/files.py``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.api.errors import parley_error_response
from parley.errors import InvalidRequest, PayloadTooLarge

UPLOAD_PATHS = frozenset({"/v1/files"})
"""Paths whose bodies are uploads, bounded by ``max_file_bytes`` instead."""


class BodyTooLarge(PayloadTooLarge):
    """413: a request body longer than this server reads."""

    def __init__(self, limit: int) -> None:
        message = f"The request body exceeds the maximum size of {limit} bytes."
        InvalidRequest.__init__(self, message, code="request_too_large")
        self.limit = limit


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, exempt: frozenset[str] = UPLOAD_PATHS) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await parley_error_response(BodyTooLarge(self.max_bytes))(scope, receive, send)
            return
        limit, seen = self.max_bytes, 0

        async def counted() -> Message:
            """Raised from the route's read, the error is answered like any other ``ParleyError``."""
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
