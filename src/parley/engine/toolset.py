"""The tools one model call is offered, and how the model's calls map back to items.

Every client-side tool kind becomes a chat-completions tool under a name that
cannot collide (namespace members as ``<namespace>__<name>``), and every chat
tool call maps back, by that name, to the item type the Responses API uses:
``function_call`` (with ``namespace``), ``custom_tool_call`` or
``tool_search_call``. Deferred tools (``defer_loading``) are held back until a
``tool_search_output`` loads them. Hosted tools (``tools/``) are offered here too,
as the one function each defines; their calls are run by Parley, not handed back.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from parley.tools.base import HostedTool
from parley.tools.tool_search import chat_tool as search_chat_tool
from parley.wire.tools import CustomTool, FunctionTool, GrammarFormat, NamespaceTool, ToolSearchTool

Kind = Literal["function", "custom", "tool_search", "hosted"]
NAMESPACE_SEPARATOR = "__"


@dataclass(frozen=True)
class OfferedTool:
    kind: Kind
    name: str
    namespace: str | None
    chat_name: str
    chat_tool: dict[str, Any]
    """The definition the provider sees."""
    hosted: HostedTool | None = None


def _custom_description(tool: CustomTool) -> str:
    """What the function fallback tells the model about a freeform tool's input."""
    text = tool.description or ""
    fmt = tool.format
    if isinstance(fmt, GrammarFormat):
        text += (
            f"\n\nPass the raw input as the `input` string. It must match this {fmt.syntax} grammar:\n"
            f"{fmt.definition}"
        )
    else:
        text += "\n\nPass the raw, free-form input as the `input` string."
    return text.strip()


def _custom_chat_tool(tool: CustomTool, chat_name: str, native: bool) -> dict[str, Any]:
    if native:
        custom: dict[str, Any] = {"name": chat_name}
        if tool.description is not None:
            custom["description"] = tool.description
        if isinstance(tool.format, GrammarFormat):
            custom["format"] = {
                "type": "grammar",
                "grammar": {"syntax": tool.format.syntax, "definition": tool.format.definition},
            }
        elif tool.format is not None:
            custom["format"] = {"type": "text"}
        return {"type": "custom", "custom": custom}
    parameters = {
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "function": {"name": chat_name, "description": _custom_description(tool), "parameters": parameters},
    }


def _function_chat_tool(tool: FunctionTool, chat_name: str) -> dict[str, Any]:
    function: dict[str, Any] = {"name": chat_name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = (
        tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}}
    )
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


class Toolset:
    def __init__(
        self, tools: list[Any], *, native_custom: bool, hosted: list[HostedTool] | tuple[()] = ()
    ) -> None:
        """``tools`` are the client-side tools; ``hosted`` the tools Parley runs for this response."""
        self._native_custom = native_custom
        self._offered: dict[str, OfferedTool] = {}
        self._deferred: dict[tuple[str | None, str], FunctionTool | CustomTool] = {}
        self._chat_names: dict[tuple[str | None, str], str] = {}
        for tool in hosted:
            self._offer_hosted(tool)
        for tool in tools:
            if isinstance(tool, NamespaceTool):
                for member in tool.tools:
                    self._add(member, tool.name)
            elif isinstance(tool, FunctionTool | CustomTool):
                self._add(tool, None)
            elif isinstance(tool, ToolSearchTool):
                self._offer_search(tool)

    def _add(self, tool: FunctionTool | CustomTool, namespace: str | None) -> None:
        if tool.defer_loading:
            self._deferred[(namespace, tool.name)] = tool
        else:
            self._offer(tool, namespace)

    def _offer(self, tool: FunctionTool | CustomTool, namespace: str | None) -> None:
        if (namespace, tool.name) in self._chat_names:
            return
        own = tool.name if namespace is None else f"{namespace}{NAMESPACE_SEPARATOR}{tool.name}"
        chat_name = self._unique(own)
        if isinstance(tool, CustomTool):
            offered = OfferedTool(
                "custom",
                tool.name,
                namespace,
                chat_name,
                _custom_chat_tool(tool, chat_name, self._native_custom),
            )
        else:
            offered = OfferedTool(
                "function", tool.name, namespace, chat_name, _function_chat_tool(tool, chat_name)
            )
        self._offered[chat_name] = offered
        self._chat_names[(namespace, tool.name)] = chat_name

    def offer_hosted(self, tools: Sequence[HostedTool]) -> None:
        """Hosted tools found once the turn runs (a ``ToolGroup``'s), offered from the next model call."""
        for tool in tools:
            self._offer_hosted(tool)

    def _offer_hosted(self, tool: HostedTool) -> None:
        chat_tool = tool.chat_tool()
        chat_name = str(chat_tool["function"]["name"])
        self._offered[chat_name] = OfferedTool("hosted", chat_name, None, chat_name, chat_tool, tool)

    def _unique(self, chat_name: str) -> str:
        while chat_name in self._offered:  # a hosted or top-level tool already owns the name
            chat_name += "_"
        return chat_name

    def _offer_search(self, tool: ToolSearchTool) -> None:
        chat_name = self._unique("tool_search")
        function = search_chat_tool(tool)["function"]
        chat_tool = {"type": "function", "function": {**function, "name": chat_name}}
        self._offered[chat_name] = OfferedTool("tool_search", "tool_search", None, chat_name, chat_tool)

    def load(self, tools: list[dict[str, Any]]) -> None:
        """Make tools returned by a ``tool_search_output`` callable from now on."""
        for raw in tools:
            kind, name = raw.get("type"), raw.get("name")
            if kind == "namespace":
                for member in raw.get("tools") or ():
                    self._load_one(member, str(name))
            else:
                self._load_one(raw, None)

    def _load_one(self, raw: dict[str, Any], namespace: str | None) -> None:
        name = str(raw.get("name"))
        key: tuple[str | None, str] | None = (namespace, name)
        if key not in self._deferred:  # a search result may not say which namespace it came from
            key = next((k for k in self._deferred if k[1] == name), None)
        if key is not None and raw.get("type") in (None, self._deferred[key].type):
            self._offer(self._deferred[key], key[0])
        elif raw.get("type") == "function":
            self._offer(FunctionTool.model_validate({**raw, "defer_loading": None}), namespace)
        elif raw.get("type") == "custom":
            self._offer(CustomTool.model_validate({**raw, "defer_loading": None}), namespace)

    @property
    def deferred(self) -> list[tuple[str | None, FunctionTool | CustomTool]]:
        return [(namespace, tool) for (namespace, _), tool in self._deferred.items()]

    def hosted(self) -> list[HostedTool]:
        return [offered.hosted for offered in self._offered.values() if offered.hosted is not None]

    def chat_tools(self) -> list[dict[str, Any]]:
        return [offered.chat_tool for offered in self._offered.values()]

    def by_chat_name(self, chat_name: str) -> OfferedTool | None:
        return self._offered.get(chat_name)

    def chat_name(self, name: str, namespace: str | None) -> str:
        """The name the provider knows a tool by (unknown tools keep their own name)."""
        return self._chat_names.get((namespace, name), name)

    def chat_name_of(self, name: str) -> str:
        """The chat name of a tool a ``tool_choice`` names by its own name, namespaced or not."""
        if (None, name) in self._chat_names:
            return self._chat_names[(None, name)]
        return next((chat for (_, own), chat in self._chat_names.items() if own == name), name)

    def signature(self) -> Hashable:
        """What turning stored items into chat messages depends on: the tools' chat names and how
        custom tools travel (so a conversion made for other tools is not reused)."""
        names = sorted(self._chat_names.items(), key=lambda entry: (entry[0][0] or "", entry[0][1]))
        return (self._native_custom, tuple(names))

    def sends_custom_natively(self) -> bool:
        return self._native_custom
