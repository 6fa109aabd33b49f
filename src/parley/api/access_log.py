"""One log line per request at ``info``: method, path, status, duration and the response it made.

Never bodies, headers or query strings (a query may carry what a body would). Plain ASGI, so a
streamed answer is timed to its last byte, and a WebSocket to its close.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("parley.access")
RESPONSE_ID = "parley.response_id"


def note_response_id(connection: HTTPConnection, response_id: str) -> None:
    """Name the response a request made, for its access log line (a create's id is in no path)."""
    connection.scope[RESPONSE_ID] = response_id


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 101 if scope["type"] == "websocket" else 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
            elif message["type"] == "websocket.close" and status == 101:
                status = 403  # closed before it was accepted: a refused handshake
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            method = "WS" if scope["type"] == "websocket" else scope["method"]
            elapsed = (time.perf_counter() - started) * 1000
            made = scope.get(RESPONSE_ID)
            suffix = f" {made}" if made else ""
            log.info("%s %s %d %.1fms%s", method, scope["path"], status, elapsed, suffix)
