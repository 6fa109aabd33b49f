"""Everything that can fail before the first event: it fails as an HTTP error, not a stream.

Preparing a turn resolves the provider, loads the ``previous_response_id``
chain, gives every input item its id and checks that the items make sense
together (each ``function_call_output`` answers a call that exists).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parley.engine.compaction import open_compaction, read_stored
from parley.engine.conversation import ConversationLocks, conversation_not_found
from parley.engine.emit import Emitter
from parley.engine.files import NAMES_A_FILE, resolve_files
from parley.engine.history import HistoryMessages
from parley.engine.limits import Limits, check_request
from parley.engine.live import LiveResponses
from parley.engine.pairing import check_calls_answered
from parley.engine.parameters import vendor_parameters
from parley.engine.prompts import apply_prompt
from parley.engine.references import input_items as resolve_input
from parley.engine.structured_output import check_schema
from parley.engine.toolset import Toolset
from parley.errors import InvalidRequest, ParleyError
from parley.ids import new_id
from parley.providers.base import ChatProvider, ModelRouter
from parley.sealing import ReasoningSealer, Tampered
from parley.storage.base import ConversationStore, ResponseStore
from parley.storage.prompts import PromptStore
from parley.tools.base import HostedTool, ToolGroup, ToolServices
from parley.tools.registry import HOSTED
from parley.wire.items import Item, item_type
from parley.wire.request import CreateResponseRequest, conversation_id
from parley.wire.response import new_response


@dataclass(frozen=True)
class EngineDeps:
    responses: ResponseStore
    router: ModelRouter
    sealer: ReasoningSealer
    live: LiveResponses = field(default_factory=LiveResponses)
    tools: ToolServices = field(default_factory=ToolServices)
    conversations: ConversationStore | None = None
    conversation_locks: ConversationLocks = field(default_factory=ConversationLocks)
    prompts: PromptStore | None = None
    histories: HistoryMessages = field(default_factory=HistoryMessages)
    limits: Limits = field(default_factory=Limits)


@dataclass
class Turn:
    """One prepared response: what to ask, whom to ask, and the context to send."""

    request: CreateResponseRequest
    response: dict[str, Any]
    input_items: list[Item]
    context: list[Item]
    provider: ChatProvider
    model: str
    owner: str
    toolset: Toolset
    seal: Callable[[str], str] | None = None
    """Set when the caller asked for ``reasoning.encrypted_content``."""
    failure: ParleyError | None = field(default=None)
    conversation_id: str | None = None
    history: int = 0
    """How many items at the head of ``context`` are stored state (the chain or the conversation)."""
    histories: HistoryMessages | None = None
    stored_mark: tuple[int, str | None] = (0, None)
    """How many items the stored history had, and the last one's id, as the turn read it."""
    sealer: ReasoningSealer | None = None
    """Opens compaction items read back from storage, and seals the ones this turn makes."""
    compact_now: bool = False
    """The input ended with ``compaction_trigger``: the response compacts the context, nothing else."""
    first_sequence: int = 0
    """Where the events go on from: a background response's first two were sent when it was queued."""
    cancelled: bool = False
    """Set before the task running the turn is cancelled, so that it is stored as ``cancelled``."""
    stalled_for: float | None = None
    """Set when its streaming client read nothing for this many seconds and was dropped."""
    answered_whole: bool = False
    """Set when the caller gets the final response as one JSON answer, not as a stream of events:
    then a failure that is the caller's mistake, before any output, is an HTTP error and not stored."""
    emitter: Emitter | None = None
    """Set by ``run_turn``: the response as it stands, with what open items have said so far."""
    groups: list[ToolGroup] = field(default_factory=list)
    """Hosted tool groups (MCP servers) opened as the turn starts, before the first model call."""
    limits: Limits = field(default_factory=Limits)
    deadline: float | None = None
    """Set by ``run_turn``: the loop time by which the response ends (``response_timeout``)."""
    vendor_parameters: dict[str, Any] = field(default_factory=dict)
    """Vendor extensions the request carries and the provider takes, added to each chat request."""

    def stopped_reading(self, seconds: float) -> None:
        self.stalled_for = seconds

    def snapshot(self) -> dict[str, Any]:
        return (
            self.emitter.snapshot()
            if self.emitter
            else {**self.response, "output": list(self.response["output"])}
        )


async def prepare_turn(
    request: CreateResponseRequest, deps: EngineDeps, owner: str, response_id: str | None = None
) -> Turn:
    """``response_id`` is given when a background response that was queued is prepared again."""
    prompted = await apply_prompt(request, deps.prompts, owner)  # template messages go after the history
    request = prompted.request
    check_request(request, deps.limits)
    check_schema(request)
    provider, model = deps.router.resolve(prompted.model)
    await provider.recognise()  # its capabilities decide how the request is sent
    vendor = vendor_parameters(request, provider)
    stored = await _stored_context(request, deps, owner)
    await deps.sealer.start()  # at once where a lifespan fetched the key; else (tests) the first time
    stored_types = deps.histories.item_types((owner, stored[0].get("id")), stored) if stored else frozenset()
    history = read_stored(stored, stored_types, deps.sealer)
    input_items = await resolve_input(request, history, deps.responses, owner)
    compact_now = _compaction_triggered(input_items)
    if not input_items and not history and not prompted.messages:
        raise _no_input(request)
    readable = _readable_input(input_items[:-1] if compact_now else input_items, deps.sealer)
    if compact_now and not (history or prompted.messages or readable):
        raise InvalidRequest("There is nothing to compact before 'compaction_trigger'.", param="input")
    context = await _with_files(history, prompted.messages, readable, stored_types, deps, owner)
    _check_call_outputs(context, len(context) - len(readable))
    _check_approvals(context, len(context) - len(readable))
    check_calls_answered(context, len(context) - len(readable))
    toolset, groups = await _toolset(request, deps.tools, owner, provider)
    if "tool_search_output" in stored_types or "tool_search_output" in map(item_type, readable):
        _load_searched_tools(toolset, context)
    seal = deps.sealer.seal if "reasoning.encrypted_content" in request.include else None
    response = new_response(request, response_id or new_id("resp"), int(time.time()))
    turn = Turn(request, response, input_items, context, provider, model, owner, toolset, seal)
    turn.conversation_id, turn.history = conversation_id(request), len(history)
    turn.stored_mark = (len(stored), stored[-1].get("id") if stored else None)
    turn.histories, turn.sealer, turn.compact_now = deps.histories, deps.sealer, compact_now
    turn.groups, turn.vendor_parameters = groups, vendor
    turn.limits = deps.limits
    return turn


async def _with_files(
    history: list[Item],
    prompted: list[Item],
    readable: list[Item],
    stored_types: frozenset[str],
    deps: EngineDeps,
    owner: str,
) -> list[Item]:
    """The context with the bytes of the files its parts name (never stored, so read each turn);
    the stored history is read for them only when one of its items names a file. A file missing
    from the request's own input is a 404; from what came before it, a note."""
    library = deps.tools.vector_stores
    if NAMES_A_FILE in stored_types:
        context = history + prompted + readable
        return await resolve_files(context, library, owner, strict_from=len(context) - len(readable))
    return history + await resolve_files(prompted + readable, library, owner, strict_from=len(prompted))


async def _toolset(
    request: CreateResponseRequest, services: ToolServices, owner: str, provider: ChatProvider
) -> tuple[Toolset, list[ToolGroup]]:
    """The tools the model is offered, and the groups (MCP servers) that open before it is asked."""
    hosted, client_tools = await _hosted_tools(request, services, owner)
    groups = [tool for tool in hosted if isinstance(tool, ToolGroup)]
    singles = [tool for tool in hosted if not isinstance(tool, ToolGroup)]
    native_custom = provider.capabilities.native_custom_tools
    return Toolset(client_tools, native_custom=native_custom, hosted=singles), groups


def _no_input(request: CreateResponseRequest) -> InvalidRequest:
    """Nothing for the model to answer: ``input`` left out, or sent empty (OpenAI's two answers)."""
    if "input" in request.model_fields_set and request.input == []:
        return InvalidRequest(
            "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty "
            "array instead (an empty input needs a 'previous_response_id', 'conversation' or 'prompt' "
            "to answer).",
            param="input",
            code="empty_array",
        )
    return InvalidRequest(
        "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
    )


def _load_searched_tools(toolset: Toolset, context: list[Item]) -> None:
    """Tools a ``tool_search`` found earlier are offered again (most contexts have none)."""
    for item in context:
        if item["type"] == "tool_search_output":
            toolset.load(item["tools"])


def _compaction_triggered(items: list[Item]) -> bool:
    """Whether the input ends with ``compaction_trigger``; anywhere else it is a mistake."""
    for index, item in enumerate(items[:-1]):
        if item["type"] == "compaction_trigger":
            raise InvalidRequest(
                "A 'compaction_trigger' item must be the final input item.",
                param=f"input[{index}]",
                code="invalid_value",
            )
    return bool(items) and items[-1]["type"] == "compaction_trigger"


async def _stored_context(request: CreateResponseRequest, deps: EngineDeps, owner: str) -> list[Item]:
    """The items a turn continues from: its ``previous_response_id`` chain or its conversation."""
    if request.previous_response_id is not None:
        found = await deps.responses.history(request.previous_response_id, owner)
        if found is None:  # OpenAI's answer is a 400, not a 404: proxies in front of Codex branch on it
            raise InvalidRequest(
                f"Previous response with id '{request.previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return found
    conversation = conversation_id(request)
    if conversation is None:
        return []
    items = await deps.conversations.all_items(conversation, owner) if deps.conversations else None
    if items is None:
        raise conversation_not_found(conversation)
    return items


async def _hosted_tools(
    request: CreateResponseRequest, services: ToolServices, owner: str
) -> tuple[list[HostedTool | ToolGroup], list[Any]]:
    """The request's tools that Parley runs for this response, and the rest (the caller's)."""
    hosted: list[HostedTool | ToolGroup] = []
    client: list[Any] = []
    for index, tool in enumerate(request.tools):
        kind = HOSTED.get(tool.type)
        built = await kind.build(tool, services, owner, f"tools[{index}]") if kind is not None else None
        if built is None:
            client.append(tool)
        else:
            hosted.append(built)
    return hosted, client


def _readable_input(items: list[Item], sealer: ReasoningSealer) -> list[Item]:
    """The input as the model may read it: sealed reasoning opened, compaction items opened into
    the context they stand for. Content that carries this server's seal but does not open is
    the caller's mistake, named by its place in ``input``."""
    readable: list[Item] = []
    for index, item in enumerate(items):
        try:
            if item["type"] == "compaction":
                readable.extend(open_compaction(item, sealer))
            else:
                readable.append(_readable(item, sealer))
        except Tampered as exc:
            raise InvalidRequest(
                f"Invalid 'input[{index}].encrypted_content': {exc}.",
                param=f"input[{index}].encrypted_content",
                code="invalid_encrypted_content",
            ) from None
    return readable


def _readable(item: Item, sealer: ReasoningSealer) -> Item:
    """Reasoning sealed by this server, opened for the model; anything else passes unchanged.

    Reasoning sealed elsewhere (another server, OpenAI itself) cannot be read and
    is left out of the model's context without error.
    """
    sealed = item.get("encrypted_content") if item["type"] == "reasoning" else None
    if not sealed:
        return item
    if not sealer.is_ours(sealed):
        return {**item, "content": None}
    return {**item, "content": [{"type": "reasoning_text", "text": sealer.open(sealed)}]}


_ANSWERS = {
    "function_call_output": "function_call",
    "custom_tool_call_output": "custom_tool_call",
    "tool_search_output": "tool_search_call",
}


def _check_call_outputs(context: list[Item], first_input: int) -> None:
    """Every tool output in the new input answers a call made earlier in the context (the calls
    are collected only when the input has an output: most turns have none, and a long history)."""
    outputs = [
        (index, item, answered)
        for index, item in enumerate(context[first_input:])
        if (answered := _ANSWERS.get(item["type"])) is not None
        and not (item["type"] == "tool_search_output" and not item.get("call_id"))
    ]
    if not outputs:
        return
    calls = {(item["type"], item.get("call_id")) for item in context if item["type"] in _ANSWERS.values()}
    for index, item, answered in outputs:
        if (answered, item["call_id"]) not in calls:
            kind = item["type"].removesuffix("_output").replace("_", " ")
            raise InvalidRequest(
                f"No {kind} found for {item['type']} with call_id '{item['call_id']}'.",
                param=f"input[{index}].call_id",
                code="unknown_call_id",
            )


def _check_approvals(context: list[Item], first_input: int) -> None:
    """Every ``mcp_approval_response`` in the new input answers an ``mcp_approval_request`` made earlier."""
    answers = [
        (index, item)
        for index, item in enumerate(context[first_input:])
        if item["type"] == "mcp_approval_response"
    ]
    if not answers:
        return
    requests = {item.get("id") for item in context if item["type"] == "mcp_approval_request"}
    for index, item in answers:
        if item["approval_request_id"] not in requests:
            raise InvalidRequest(
                f"No mcp_approval_request found with id '{item['approval_request_id']}'.",
                param=f"input[{index}].approval_request_id",
                code="unknown_approval_request",
            )
