"""The local model's own process: llama-cpp-python's OpenAI-compatible server, behind one adapter.

Two things it does differently from OpenAI's chat completions, which ``ChatBodyAdapter`` evens out so
that Parley reaches it as any other provider, with no special case on its side: it reads structured
output only as ``{"type": "json_object", "schema": ...}`` (OpenAI's ``json_schema`` format is a 500),
and a stream never ends with the usage chunk ``stream_options.include_usage`` asks for (its chunks are
one token each, so the adapter counts them; the tokens in the model's context then give the prompt's).
It also refuses ``logprobs``, which the model is run without.
Started by ``parley.local_model``, never imported by the server:
``python -m parley.local_server --model FILE.gguf --alias NAME --port N``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ChatBodyAdapter", "UsageCounter", "adapt_chat_body", "main"]

CHAT_PATH = "/v1/chat/completions"


def adapt_chat_body(body: bytes) -> bytes:
    """``body`` with a ``json_schema`` response format as llama-cpp-python's ``json_object`` with a
    schema (grammar-constrained to it); any other body unchanged."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    fmt = data.get("response_format") if isinstance(data, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return body
    schema = (fmt.get("json_schema") or {}).get("schema")
    data["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
    return orjson.dumps(data)


class UsageCounter:
    """Counts a chat stream's tokens as they are sent and sends the usage chunk before ``[DONE]``."""

    def __init__(self, send: Send, context_tokens: Callable[[], int]) -> None:
        self.send, self.context_tokens = send, context_tokens
        self.completion = 0
        self.total: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": self._count(message.get("body", b""))}
        await self.send(message)

    def _count(self, body: bytes) -> bytes:
        out = []
        for line in body.split(b"\n"):
            if line.startswith(b"data: {"):
                chunk = orjson.loads(line[6:])
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    self.completion += bool(delta.get("content") or delta.get("tool_calls"))
                    if choice.get("finish_reason") and self.total is None:
                        # read while the model is still this stream's; a stream cut at its token
                        # limit has not fed its last token back into the context
                        self.total = self.context_tokens() + (choice["finish_reason"] == "length")
            elif line.rstrip(b"\r") == b"data: [DONE]":
                out.append(b"data: " + orjson.dumps(self._usage_chunk()) + b"\r\n\r")
            out.append(line)
        return b"\n".join(out)

    def _usage_chunk(self) -> dict[str, Any]:
        prompt = max((self.total or 0) - self.completion, 0)
        usage = {"prompt_tokens": prompt, "completion_tokens": self.completion}
        return {
            "object": "chat.completion.chunk",
            "choices": [],
            "usage": usage | {"total_tokens": prompt + self.completion},
        }


class ChatBodyAdapter:
    """ASGI: reads a chat request's whole body, adapts it, and hands the app the adapted one."""

    def __init__(self, app: ASGIApp, context_tokens: Callable[[], int] | None = None) -> None:
        self.app, self.context_tokens = app, context_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CHAT_PATH:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = adapt_chat_body(b"".join(chunks))
        if _asks(body, "logprobs"):
            await _refuse_logprobs(send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        given = False

        async def adapted() -> Message:
            nonlocal given
            if given:
                return await receive()  # what follows the body: a disconnect
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        if self.context_tokens is not None and _asks_usage(body):
            send = UsageCounter(send, self.context_tokens)
        await self.app({**scope, "headers": headers}, adapted, send)


def _asks_usage(body: bytes) -> bool:
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
        data = orjson.loads(body)
        return bool(data.get("stream") and (data.get("stream_options") or {}).get("include_usage"))
    return False


def _asks(body: bytes, name: str) -> bool:
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
        return bool(orjson.loads(body).get(name))
    return False


async def _refuse_logprobs(send: Send) -> None:
    """The model runs without keeping every token's logits (``logits_all``: 11% more tokens/s, and
    no n_ctx x vocabulary array): llama.cpp would fail such a stream after its first byte, so it is
    refused before, in OpenAI's shape."""
    message = "The local model does not return logprobs; configure a provider that does."
    error = {"message": message, "type": "invalid_request_error", "param": "logprobs", "code": None}
    body = orjson.dumps({"error": error})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _server(model: str, alias: str, context: int, threads: int | None) -> ASGIApp:
    from llama_cpp.server import app as server
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    tuning: dict[str, Any] = {"n_threads": threads, "n_threads_batch": threads} if threads else {}
    settings = ModelSettings(model=model, model_alias=alias, n_ctx=context, logits_all=False, **tuning)
    # logits_all off: see _refuse_logprobs
    # interrupt_requests (on by default) would cut a stream short whenever another request waits:
    # Parley sends several at once, and they must queue, not end each other.
    app = server.create_app(
        server_settings=ServerSettings(interrupt_requests=False), model_settings=[settings]
    )
    proxy: Any = server._llama_proxy  # the loaded model, whose context length counts prompt tokens

    def context_tokens() -> int:
        return int(proxy().n_tokens)

    return ChatBodyAdapter(app, context_tokens)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m parley.local_server", description=__doc__)
    parser.add_argument("--model", required=True, help="The GGUF file.")
    parser.add_argument("--alias", required=True, help="Its model name in requests and /v1/models.")
    parser.add_argument("--port", type=int, required=True, help="Loopback port to listen on.")
    parser.add_argument("--context", type=int, default=4096, help="Context window, in tokens.")
    parser.add_argument("--threads", type=int, help="CPU threads (default: llama.cpp's choice).")
    args = parser.parse_args(argv)
    import uvicorn

    app = _server(args.model, args.alias, args.context, args.threads)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
