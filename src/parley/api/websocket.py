"""WebSocket mode on ``/v1/responses``: ``response.create`` messages in, each turn's events out.

As in OpenAI's WebSocket mode and the Open Responses spec, the client sends
``{"type": "response.create", ...the create body...}`` and receives the turn's events, one JSON
text message each, in the order and with the sequence numbers the SSE stream of the same turn
has; then the socket is ready for the next ``response.create``. Turns run one at a time, and
messages that arrive meanwhile wait their turn. A reader task keeps taking them off the socket
while a turn streams, so heartbeats are answered and a client that goes away stops its turn at
once, as a closed HTTP stream does.

A mistaken message (not JSON, not an object, an unknown ``type``, an invalid body, too large,
``background``) is answered with an ``error`` message, the status and OpenAI error object an HTTP
request would get, and the socket stays usable. ``stream`` and ``stream_options`` are ignored: a
socket always streams. The turn itself is the engine's one entry point, ``start_turn``, over a
per-socket view of the response store (``SocketResponses``) that lets ``previous_response_id``
continue the socket's latest response even when it was not stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import Any

import anyio
import orjson
from starlette.routing import WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from parley.api.common import deps, principal
from parley.api.errors import error_object
from parley.api.socket_responses import SocketResponses
from parley.engine import EngineDeps, TurnRun, start_turn
from parley.errors import InvalidRequest, ParleyError, PayloadTooLarge
from parley.wire.nesting import check_depth
from parley.wire.request import parse_create_request

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 16 * 1024 * 1024
"""A larger message is answered with an error and the socket stays open. ``parley serve`` sets the
server's own frame limit (``ws_max_size``) above this: a frame past that closes the socket (1009)."""
WAITING_MESSAGES = 64
"""Messages read while a turn streams; past this the reader waits, and TCP pushes back on the client."""
TRANSPORT_FIELDS = frozenset({"type", "stream", "stream_options"})
"""Fields of a ``response.create`` message that are not part of the create body."""
SERVER_ERROR = {
    "message": "The server had an error while processing your request.",
    "type": "server_error",
    "param": None,
    "code": "server_error",
}


class MessageTooLarge(PayloadTooLarge):
    """413: a WebSocket message longer than the server reads."""

    def __init__(self, limit: int) -> None:
        message = f"The message is longer than the maximum of {limit} characters."
        InvalidRequest.__init__(self, message, code="message_too_large")
        self.limit = limit


def decode(message: Message) -> dict[str, Any]:
    """The JSON object a message carries (text, or UTF-8 bytes), or the InvalidRequest saying why not."""
    raw: str | bytes = message.get("text") or message.get("bytes") or b""
    if len(raw) > MAX_MESSAGE_CHARS:
        raise MessageTooLarge(MAX_MESSAGE_CHARS)
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The message is not valid JSON: {exc}.", code="invalid_json") from None
    check_depth(raw, frame, "The message")
    if not isinstance(frame, dict):
        raise InvalidRequest("A message must be a JSON object.", code="invalid_json")
    return frame


def create_body(frame: dict[str, Any]) -> dict[str, Any]:
    """The create body of a ``response.create`` message: its fields less the transport's own."""
    kind = frame.get("type")
    if kind is None:
        raise InvalidRequest(
            "Missing required parameter: 'type'.", param="type", code="missing_required_parameter"
        )
    if kind != "response.create":
        raise InvalidRequest(
            f"Invalid value: {kind!r}. Supported values are: 'response.create'.",
            param="type",
            code="invalid_value",
        )
    if frame.get("background") is True:
        raise InvalidRequest(
            "background=true is not supported over WebSocket; use POST /v1/responses for background "
            "responses.",
            param="background",
            code="unsupported_parameter",
        )
    return {key: value for key, value in frame.items() if key not in TRANSPORT_FIELDS}


def error_frame(status: int, error: dict[str, Any]) -> str:
    """``{"type": "error", "status", "error": {...}}``; the code is always a string (the type if none)."""
    body = {
        "type": error["type"],
        "code": error["code"] or error["type"],
        "message": error["message"],
        "param": error["param"],
    }
    return orjson.dumps({"type": "error", "status": status, "error": body}).decode()


class ResponseSocket:
    """One client's socket: the messages waiting, and the socket's own view of stored responses."""

    def __init__(self, websocket: WebSocket, engine: EngineDeps, owner: str) -> None:
        self.websocket = websocket
        self.responses = SocketResponses(engine.responses)
        self.engine = dataclasses.replace(engine, responses=self.responses)
        self.owner = owner
        self.waiting, self.queued = anyio.create_memory_object_stream[Message](WAITING_MESSAGES)

    async def serve(self) -> None:
        """Answer messages in order until the client goes away (or the server shuts down: 1012)."""
        async with self.waiting, self.queued, anyio.create_task_group() as tasks:
            tasks.start_soon(self._read, tasks.cancel_scope)
            with contextlib.suppress(WebSocketDisconnect):  # a send found the client gone first
                async for message in self.queued:
                    await self.answer(message)
            tasks.cancel_scope.cancel()

    async def _read(self, scope: anyio.CancelScope) -> None:
        while (message := await self.websocket.receive())["type"] != "websocket.disconnect":
            await self.waiting.send(message)
        scope.cancel()  # stops a streaming turn too, as a closed HTTP stream does

    async def answer(self, message: Message) -> None:
        frame: dict[str, Any] = {}
        try:
            frame = decode(message)
            run = await start_turn(parse_create_request(create_body(frame)), self.engine, self.owner)
        except ParleyError as exc:
            self.responses.evict(frame.get("previous_response_id"))
            await self.websocket.send_text(error_frame(*error_object(exc)))
            return
        except Exception:  # a bug: answered as HTTP answers it (500), and the socket stays usable
            log.exception("response.create on a WebSocket failed")
            self.responses.evict(frame.get("previous_response_id"))
            await self.websocket.send_text(error_frame(500, SERVER_ERROR))
            return
        await self.stream(run)

    async def stream(self, run: TurnRun) -> None:
        terminal = ""
        async for event in run.events:
            terminal = event["type"]
            await self.websocket.send_text(orjson.dumps(event).decode())
        if terminal == "response.failed":
            self.responses.evict(run.turn.request.previous_response_id)
        else:
            self.responses.keep(run.turn)


async def responses_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await ResponseSocket(websocket, deps(websocket), principal(websocket)).serve()


route = WebSocketRoute("/v1/responses", responses_socket)
