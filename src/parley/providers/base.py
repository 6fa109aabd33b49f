"""The outbound seam for inference, in the spirit of httpx's transport base.

The engine speaks chat-completions JSON to a ``ChatProvider`` and gets chunk
objects back; how they travel (pooled HTTP, recorded, replayed) is the
provider's business. A ``ModelRouter`` picks the provider for a model name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

Json = dict[str, Any]


class ChatProvider(Protocol):
    name: str
    native_custom_tools: bool
    """Whether the provider takes custom (freeform) tools natively, or as single-string functions."""

    def stream_chat(self, body: Json) -> AsyncIterator[Json]:
        """Stream a chat completion: ``body`` is sent as is (``stream`` forced on); yields chunk objects."""
        ...

    async def post_json(self, path: str, body: Json) -> Json:
        """POST a JSON body to ``path`` (relative to the base URL) and return the JSON answer."""
        ...

    def post_stream(self, path: str, body: Json) -> AsyncIterator[bytes]:
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
