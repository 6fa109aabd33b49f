"""A scripted, OpenAI-compatible chat-completions server.

Parley's tests and benchmarks need an upstream that speaks the exact chat.completion(.chunk) wire
format, answers deterministically, and can be told to fail in specific ways (HTTP errors, broken
streams, slow tokens) -- without a network or a real model. Mount ``FakeUpstream(...).app`` through
``httpx2.ASGITransport`` in-process, or serve it on loopback with ``python -m parley.testing.fake_upstream``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import importlib.util
import itertools
import math
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from parley.testing.replies import (
    Reply,
    Script,
    ToolCall,
    auto_reply,
    count_prompt_tokens,
    payload_key,
    split_arguments,
    split_pieces,
)

__all__ = [
    "EMBEDDING_DIM",
    "FakeUpstream",
    "Reply",
    "Script",
    "ToolCall",
    "auto_reply",
    "main",
    "split_pieces",
]

Json = dict[str, Any]

EMBEDDING_DIM = 32
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error"}  # fmt: skip


def _embedding(text: str) -> list[float]:
    raw = hashlib.sha256(text.encode()).digest()  # 32 bytes -> one float each
    values = [b - 127.5 for b in raw[:EMBEDDING_DIM]]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _malformed_chat(body: Json) -> str | None:
    """What a real provider would refuse with 400 before reading on: the fake answers as it would."""
    messages, tools = body.get("messages"), body.get("tools", [])
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return "each message must be an object with a 'role'"
        if not isinstance(message.get("content"), str | list | None):
            return "a message's 'content' must be a string or an array of parts"
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        return "'tools' must be an array of objects"
    return None


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def _error(status: int, message: str, type_: str | None = None) -> Response:
    error = {"message": message, "type": type_ or _ERROR_TYPES.get(status, "server_error"), "code": None}
    return _json({"error": error}, status)


class FakeUpstream:
    """Holds the script and the record of requests; ``.app`` is the ASGI app to point clients at."""

    def __init__(
        self, script: Script = None, *, token_delay: float = 0.0, model_ids: Sequence[str] = ("fake-model",)
    ) -> None:
        self.requests: list[Json] = []
        self.abandoned: list[str] = []
        """Completion ids of paced streams whose client went away before their end."""
        self.token_delay = token_delay
        self.model_ids = tuple(model_ids)
        self.owned_by = "fake"
        """What ``/v1/models`` says owns each model: a real server's constant makes the fake pass for it."""
        self.stream_usage = True
        """False: no usage chunk in streams, whatever ``stream_options`` asks (llama-cpp-python)."""
        self.tokenize_status = 200
        self.asked: list[str] = []
        """The requests other than chat completions, as ``"GET /v1/models"``."""
        self._queue: deque[Reply] | None = None
        self._script: Callable[[Json], Reply] = auto_reply
        if callable(script):
            self._script = script
        elif script is not None:
            self._queue = deque(script)
        self._completion_ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/extras/tokenize/count", self._tokenize_count, methods=["POST"]),
            ]
        )

    def _next_reply(self, body: Json) -> Reply | None:
        if self._queue is None:
            return self._script(body)
        return self._queue.popleft() if self._queue else None

    async def _chat(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        refusal = _malformed_chat(body)
        if refusal is not None:
            return _error(400, refusal)
        self.requests.append(body)
        reply = self._next_reply(body)
        if reply is None:
            message = f"FakeUpstream script exhausted: request #{len(self.requests)} has no scripted Reply"
            return _error(500, message, "script_exhausted")
        if reply.status != 200:
            if reply.error_body is not None:
                return _json(reply.error_body, reply.status)
            return _error(reply.status, "scripted upstream failure")
        turn = _Turn(self, reply, body)
        if not body.get("stream"):
            return _json(turn.completion())
        delay = self.token_delay if reply.token_delay is None else reply.token_delay
        return StreamingResponse(
            turn.stream(delay), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

    async def _models(self, request: Request) -> Response:
        self.asked.append("GET /v1/models")
        data = [{"id": m, "object": "model", "created": 0, "owned_by": self.owned_by} for m in self.model_ids]
        return _json({"object": "list", "data": data})

    async def _tokenize_count(self, request: Request) -> Response:
        """llama-cpp-python's ``{"input"}`` -> ``{"count"}``; a token here is a whitespace-separated word."""
        self.asked.append("POST /extras/tokenize/count")
        if self.tokenize_status != 200:
            return _error(self.tokenize_status, "scripted tokenize failure")
        body = orjson.loads(await request.body())
        return _json({"count": len(str(body.get("input", "")).split())})

    async def _embeddings(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "request body is not valid JSON")
        raw = body.get("input") if isinstance(body, dict) else None
        listed = isinstance(raw, list) and all(isinstance(x, str | int) for x in raw)
        if not (isinstance(raw, str) or listed):
            return _error(400, "'input' must be a string or an array of strings or token ids")
        inputs = [raw] if isinstance(raw, str) else [str(x) for x in raw or []]
        as_base64 = body.get("encoding_format") == "base64"  # the openai SDK asks for base64 by default
        data = []
        for i, text in enumerate(inputs):
            vector = _embedding(text)
            emb: Any = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": i, "embedding": emb})
        used = sum(len(t) for t in inputs) // 4 + 1
        usage = {"prompt_tokens": used, "total_tokens": used}
        model = body.get("model") or self.model_ids[0]
        return _json({"object": "list", "data": data, "model": model, "usage": usage})


class _Turn:
    """One chat answer resolved from a Reply: pieces, ids and usage computed once for either wire shape."""

    def __init__(self, server: FakeUpstream, reply: Reply, body: Json) -> None:
        self.reply = reply
        self.body = body
        self.server = server
        self.id = f"chatcmpl-fake-{next(server._completion_ids)}"
        self.created = int(time.time())
        self.model = str(body.get("model") or server.model_ids[0])
        self.call_ids = [tc.id or f"call_{next(server._call_ids)}" for tc in reply.tool_calls]
        self.reasoning = split_pieces(reply.reasoning)
        self.text = split_pieces(reply.text)
        self.refusal = split_pieces(reply.refusal)
        self.args = [split_arguments(tc.arguments) for tc in reply.tool_calls]
        self.finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        prompt = count_prompt_tokens(body) if reply.prompt_tokens is None else reply.prompt_tokens
        completion = reply.completion_tokens
        if completion is None:
            completion = len(self.reasoning) + len(self.text) + len(self.refusal) + sum(map(len, self.args))
        self.usage: Json = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        }

    def completion(self) -> Json:
        r = self.reply
        content = r.text or (None if r.tool_calls or r.refusal else "")
        message: Json = {"role": "assistant", "content": content, "refusal": r.refusal or None}
        if r.tool_calls:
            message["tool_calls"] = [
                {"id": cid, "type": tc.kind, tc.kind: {"name": tc.name, payload_key(tc): tc.arguments}}
                for cid, tc in zip(self.call_ids, r.tool_calls, strict=True)
            ]
        if r.reasoning:
            message["reasoning_content"] = r.reasoning
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish}
        return self._envelope("chat.completion", choice)

    def _envelope(self, object_: str, *choices: Json) -> Json:
        return {"id": self.id, "object": object_, "created": self.created, "model": self.model,
                "system_fingerprint": None, "choices": list(choices), "usage": self.usage}  # fmt: skip

    def deltas(self) -> list[Json]:
        r = self.reply
        first: Json = {
            "role": "assistant",
            "content": None if not r.text and (r.tool_calls or r.refusal) else "",
        }
        out = [first]
        out += [{"reasoning_content": p} for p in self.reasoning]
        out += [{"content": p} for p in self.text]
        out += [{"refusal": p} for p in self.refusal]
        for i, (cid, tc, pieces) in enumerate(zip(self.call_ids, r.tool_calls, self.args, strict=True)):
            key = payload_key(tc)
            head = {"index": i, "id": cid, "type": tc.kind, tc.kind: {"name": tc.name, key: ""}}
            out.append({"tool_calls": [head]})
            out += [{"tool_calls": [{"index": i, tc.kind: {key: p}}]} for p in pieces]
        return out

    def frames(self) -> list[bytes]:
        """Every SSE frame as bytes; the envelope is serialized once and only the delta varies."""
        asked = bool((self.body.get("stream_options") or {}).get("include_usage"))
        include_usage = asked and self.server.stream_usage
        head = (
            b'data: {"id":' + orjson.dumps(self.id) + b',"object":"chat.completion.chunk","created":'
            + str(self.created).encode() + b',"model":' + orjson.dumps(self.model)
            + b',"system_fingerprint":null,"choices":[{"index":0,"delta":'
        )  # fmt: skip
        tail = b"}]" + (b',"usage":null' if include_usage else b"") + b"}\n\n"
        frames = [
            head + orjson.dumps(d) + b',"logprobs":null,"finish_reason":null' + tail for d in self.deltas()
        ]
        frames.append(head + b'{},"logprobs":null,"finish_reason":' + orjson.dumps(self.finish) + tail)
        if include_usage:
            frames.append(b"data: " + orjson.dumps(self._envelope("chat.completion.chunk")) + b"\n\n")
        if self.reply.break_after_chunks is not None:
            return [*frames[: self.reply.break_after_chunks], b"data: {not json\n\n"]
        frames.append(b"data: [DONE]\n\n")
        return frames

    async def stream(self, delay: float) -> AsyncIterator[bytes]:
        frames = self.frames()
        if delay <= 0:
            yield b"".join(frames)  # nothing to pace: one write keeps 64 concurrent streams cheap
            return
        try:
            for i, frame in enumerate(frames):
                if i:
                    await asyncio.sleep(delay)
                yield frame
        except (asyncio.CancelledError, GeneratorExit):
            self.server.abandoned.append(self.id)  # the client dropped the stream midway
            raise


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the default script on a real socket, for benchmarks and manual poking."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--tokens", type=int, default=20, help="words per text answer")
    parser.add_argument("--token-delay-ms", type=float, default=0.0, help="pause between streamed chunks")
    args = parser.parse_args(argv)
    fake = FakeUpstream(
        functools.partial(auto_reply, tokens=args.tokens), token_delay=args.token_delay_ms / 1000
    )
    uvicorn.run(
        fake.app,
        host=args.host,
        port=args.port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
