"""The outbound seam for inference, in the spirit of httpx's transport base.

The engine speaks chat-completions JSON to a ``ChatProvider`` and gets chunk
objects back; how they travel (pooled HTTP, recorded, replayed) is the
provider's business. A ``ModelRouter`` picks the provider for a model name.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

Json = dict[str, Any]


@dataclass(frozen=True)
class Capabilities:
    """What a provider accepts beyond plain chat completions (set per provider in the config file)."""

    native_custom_tools: bool = False
    """Custom (freeform) tools as chat ``custom`` tools, rather than functions with one string parameter."""
    reasoning_in_history: bool = True
    """Earlier turns' reasoning sent back as ``reasoning_content``; some APIs (DeepSeek's) refuse it."""
    think_tags: bool = True
    """A ``<think>...</think>`` block opening the content is reasoning (models served without a parser)."""


class ChatProvider(Protocol):
    name: str
    capabilities: Capabilities

    def stream_chat(self, body: Json) -> AsyncIterator[Json]:
        """Stream a chat completion: ``body`` is sent as is (``stream`` forced on); yields chunk objects."""
        ...

    async def post_json(self, path: str, body: Json) -> Json:
        """POST a JSON body to ``path`` (relative to the base URL) and return the JSON answer."""
        ...

    def post_stream(self, path: str, body: Json) -> AsyncGenerator[bytes, None]:
        """POST and relay the raw streamed answer; errors are raised before the first byte."""
        ...

    async def get_json(self, path: str) -> Json: ...

    async def aclose(self) -> None: ...


class ModelRouter(Protocol):
    def resolve(self, model: str) -> tuple[ChatProvider, str]:
        """The provider serving ``model`` and the model name to send it (a routing prefix removed)."""
        ...

    @property
    def providers(self) -> list[ChatProvider]: ...
