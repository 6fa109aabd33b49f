"""What each inference server accepts, as one table, and how Parley tells the servers apart.

Servers that speak chat completions differ in details that decide whether an answer is right:
whether a stream reports usage, whether ``tool_choice: "required"`` is enforced, which structured
output form is read. Parley keeps those differences here, one row per known server, and the engine
asks a provider's ``Capabilities`` instead of testing for servers. A provider's row is recognised at
first contact from what the server says about itself (``recognise``), and any capability can be set
in the provider's config, which wins over the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

ResponseFormat = Literal["json_schema", "json_object_schema", "json_value", "json_object", "none"]
ReasoningField = Literal["reasoning_content", "reasoning"]
Tokenizer = Literal["vllm", "llama-server", "llama-cpp-python", "tgi", "sglang", "none"]


@dataclass(frozen=True)
class Capabilities:
    """One provider's row: what its server accepts, and how Parley makes up for what it does not."""

    server: str = "generic"
    """The known server this row is for (``SERVERS``), or ``generic``: OpenAI's behaviour assumed."""
    stream_usage: bool = True
    """A stream ends with a usage chunk when asked (``stream_options.include_usage``). Otherwise the
    tokens are counted: by the server's tokenize endpoint (``tokenizer``), else estimated."""
    stream_options: bool = True
    """The server accepts ``stream_options``; some refuse the request with it."""
    tool_choice_required: bool = True
    """``tool_choice: "required"`` is enforced. Otherwise: a named choice when one tool is offered,
    else an instruction and a check that a call came back (one retry, then a failed response)."""
    tool_choice_named: bool = True
    """A named ``tool_choice`` is enforced. Otherwise the tools are narrowed to the named one and the
    choice is ``required`` (itself checked as above when that is not enforced either)."""
    parallel_tool_calls: bool = True
    """The server accepts ``parallel_tool_calls``; otherwise it is not sent."""
    null_content: bool = True
    """An assistant message that only calls tools goes with ``content: null`` (OpenAI's form);
    otherwise with ``""`` (llama-cpp-python refuses the request with null)."""
    response_format: ResponseFormat = "json_schema"
    """The structured-output form it reads: OpenAI's ``json_schema``; ``json_object_schema``
    (``{"type": "json_object", "schema": ...}``, llama-cpp-python's); ``json_value`` (``{"type":
    "json", "value": ...}``, TGI's); ``json_object`` (JSON, no schema); or ``none``. Short of
    ``json_schema`` the schema goes in an instruction too, and the answer is validated against it
    (one retry, then a failed response)."""
    format_with_tools: bool = True
    """It takes ``response_format`` together with ``tools``; otherwise, when tools are offered, the
    format goes as an instruction only and the answer is checked (TGI refuses the two together)."""
    tokenizer: Tokenizer = "none"
    """Its tokenize endpoint, which counts usage when a stream reports none."""
    max_completion_tokens: bool = False
    """The output limit goes as ``max_completion_tokens`` rather than ``max_tokens``. OpenAI's own API
    deprecated ``max_tokens`` and its reasoning models refuse it; servers that read only ``max_tokens``
    ignore the other without a word, and the limit is lost. A refusal is loud where a lost limit is
    silent, so ``max_tokens`` is the default."""
    native_custom_tools: bool = False
    """Custom (freeform) tools as chat ``custom`` tools, rather than functions with one string parameter."""
    reasoning_in_history: bool = True
    """Earlier turns' reasoning sent back in assistant messages; some APIs (DeepSeek's) refuse it."""
    reasoning_field: ReasoningField = "reasoning_content"
    """Where reasoning goes in an assistant message sent back: vLLM and Ollama read ``reasoning``
    (vLLM drops ``reasoning_content`` without a word). Streamed reasoning is read from either."""
    think_tags: bool = True
    """A ``<think>...</think>`` block opening the content is reasoning (models served without a parser)."""
    unknown_parameters: Literal["error", "ignore"] = "error"
    """A create request's top-level name OpenAI does not know: refused with OpenAI's 400
    ``unknown_parameter``, or ignored (logged once per name) for clients newer than this server.
    (This and the two below are the deployment's choices, not the server's.)"""
    extra_parameters: tuple[str, ...] = ()
    """Vendor extensions this provider takes (vLLM's ``guided_choice``): sent on to its chat request."""
    summary_model: str | None = None
    """The model of this provider that writes reasoning summaries (``reasoning.summary``): providers
    stream raw reasoning only. None: no summaries, and no extra call."""


GENERIC = Capabilities()

SERVERS: dict[str, Capabilities] = {
    "openai": replace(
        GENERIC, server="openai", max_completion_tokens=True, native_custom_tools=True, think_tags=False
    ),
    "vllm": replace(
        GENERIC, server="vllm", tokenizer="vllm", reasoning_field="reasoning", max_completion_tokens=True
    ),
    "llama-server": replace(
        GENERIC, server="llama-server", tool_choice_named=False, tokenizer="llama-server"
    ),
    "llama-cpp-python": replace(
        GENERIC,
        server="llama-cpp-python",
        stream_usage=False,
        tool_choice_required=False,
        null_content=False,
        response_format="json_object_schema",
        tokenizer="llama-cpp-python",
    ),
    "ollama": replace(
        GENERIC,
        server="ollama",
        tool_choice_required=False,
        tool_choice_named=False,
        reasoning_field="reasoning",
    ),
    "lm-studio": replace(GENERIC, server="lm-studio", stream_usage=False),
    "sglang": replace(GENERIC, server="sglang", tokenizer="sglang", max_completion_tokens=True),
    "tgi": replace(
        GENERIC,
        server="tgi",
        parallel_tool_calls=False,
        response_format="json_value",
        format_with_tools=False,
        tokenizer="tgi",
    ),
}
"""The known servers' rows; every capability a row does not name is ``GENERIC``'s."""

_POLICY = frozenset({"server", "unknown_parameters", "extra_parameters", "summary_model"})
SETTABLE = tuple(f.name for f in fields(Capabilities) if f.name not in _POLICY)
"""The capabilities of a server, which a provider's config may set (the rest is deployment policy)."""
_CHOICES: dict[str, tuple[str, ...]] = {
    "response_format": get_args(ResponseFormat),
    "tokenizer": get_args(Tokenizer),
    "reasoning_field": get_args(ReasoningField),
}


def profile(server: str, overrides: Mapping[str, Any] | None = None) -> Capabilities:
    """The row of ``server`` (``generic`` for one not in the table) with ``overrides`` applied."""
    return replace(SERVERS.get(server, GENERIC), **(overrides or {}))


def check_capability(name: str, value: Any) -> Any:
    """``value`` as capability ``name`` takes it; a ``ValueError`` says what is wrong."""
    if name not in SETTABLE:
        raise ValueError(f"'{name}' is not a provider capability (known: {', '.join(SETTABLE)}).")
    allowed = _CHOICES.get(name)
    if allowed is not None and value not in allowed:
        raise ValueError(f"'{name}' must be one of {', '.join(allowed)}, got {value!r}.")
    if allowed is None and not isinstance(value, bool):
        raise ValueError(f"'{name}' must be true or false, got {value!r}.")
    return value


def server_of_url(url: str) -> str | None:
    """The server a base URL alone tells: OpenAI's own API (and Azure's); None: ask the server."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "api.openai.com" or host.endswith(".openai.azure.com"):
        return "openai"
    return None


_OWNED_BY = {
    "vllm": "vllm",
    "llamacpp": "llama-server",
    "me": "llama-cpp-python",
    "sglang": "sglang",
    "organization_owner": "lm-studio",
    "library": "ollama",
}
"""What each server writes in its model list's ``owned_by``. ``openai`` is not among them: proxies
(LiteLLM) write it too, so OpenAI's own API is known by its URL instead."""


def recognise(models: Any) -> str:
    """The server behind a ``GET /models`` answer, from the ``owned_by`` its entries carry (each
    server writes its own constant there; TGI its model's id, with ``created`` 0). Ollama writes the
    model's namespace, ``library`` for its own models: another namespace is known by the ids, which
    are all ``name:tag``. ``generic`` when none is known."""
    data = models.get("data") if isinstance(models, dict) else None
    entries = [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []
    for entry in entries:
        owner = entry.get("owned_by")
        if isinstance(owner, str) and owner in _OWNED_BY:
            return _OWNED_BY[owner]
        if isinstance(owner, str) and owner == entry.get("id") and entry.get("created") == 0:
            return "tgi"
    if entries and all(_tagged(entry.get("id")) for entry in entries):
        return "ollama"
    return "generic"


def _tagged(model_id: Any) -> bool:
    """An Ollama model id: ``name:tag``, the tag a plain word (not a URL's port or a path)."""
    if not isinstance(model_id, str) or ":" not in model_id:
        return False
    tag = model_id.rpartition(":")[2]
    return bool(tag) and "/" not in tag and not tag.isdigit()
