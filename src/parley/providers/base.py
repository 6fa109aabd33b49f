"""The outbound seam for inference, in the spirit of httpx's transport base.

The engine speaks chat-completions JSON to a ``ChatProvider`` and gets chunk
objects back; how they travel (pooled HTTP, recorded, replayed) is the
provider's business. A ``ModelRouter`` picks the provider for a model name.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

from parley.providers.profiles import Capabilities

Json = dict[str, Any]


class ChatProvider(Protocol):
    name: str
    capabilities: Capabilities
    """Its server's row (``profiles``), final once ``recognise`` has run."""

    async def recognise(self) -> None:
        """Learn which server this is, at first contact (later calls return at once)."""
        ...

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

    async def count_tokens(self, model: str, texts: list[str]) -> list[int] | None:
        """Each text's tokens by the server's own tokenizer; None when it has no tokenize endpoint."""
        ...

    async def aclose(self) -> None: ...


class ModelRouter(Protocol):
    def resolve(self, model: str) -> tuple[ChatProvider, str]:
        """The provider serving ``model`` and the model name to send it (a routing prefix removed)."""
        ...

    @property
    def providers(self) -> list[ChatProvider]: ...
