"""The outbound seam for inference, in the spirit of httpx's transport base.

The engine speaks chat-completions JSON to a ``ChatProvider`` and gets chunk
objects back; how they travel (pooled HTTP, recorded, replayed) is the
provider's business. A ``ModelRouter`` picks the provider for a model name.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

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
    unknown_parameters: Literal["error", "ignore"] = "error"
    """A create request's top-level name OpenAI does not know: refused with OpenAI's 400
    ``unknown_parameter``, or ignored (logged once per name) for clients newer than this server."""
    extra_parameters: tuple[str, ...] = ()
    """Vendor extensions this provider takes (vLLM's ``guided_choice``): sent on to its chat request."""
    summary_model: str | None = None
    """The model of this provider that writes reasoning summaries (``reasoning.summary``): providers
    stream raw reasoning only. None: no summaries, and no extra call."""
    max_completion_tokens: bool = False
    """The output limit goes as ``max_completion_tokens`` rather than ``max_tokens``. OpenAI's own API
    deprecated ``max_tokens`` and its reasoning models refuse it; vLLM takes both. But Ollama and
    LM Studio read only ``max_tokens``, and llama.cpp's server read only ``max_tokens`` until 2026:
    such servers ignore ``max_completion_tokens`` without a word and the limit is lost. A refusal is
    loud where a lost limit is silent, so ``max_tokens`` is the default, and the config turns this
    on for OpenAI's own API (``ProviderConfig.sends_max_completion_tokens``)."""


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
