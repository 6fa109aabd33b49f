"""Compaction items: sealed for their own purpose, opened into the context they stand for, and
turned into a summary message that replaces everything before it."""

from __future__ import annotations

import json
import secrets
from typing import Any

import orjson
import pytest

from parley.engine.compaction import (
    PURPOSE,
    compact_threshold,
    open_compaction,
    read_stored,
    split_latest_turn,
    transcript,
)
from parley.engine.history import HistoryMessages
from parley.engine.messages import SUMMARY_HEADING, to_chat_messages
from parley.engine.toolset import Toolset
from parley.errors import InvalidRequest
from parley.providers.encoding import encode_body
from parley.sealing import ReasoningSealer, Tampered
from parley.wire.items import Item
from parley.wire.request import parse_create_request

SEALER = ReasoningSealer(secrets.token_bytes(32))
NO_TOOLS = Toolset([], native_custom=False)


def user(n: int) -> Item:
    return {
        "id": f"msg_u{n}",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": f"u{n}"}],
    }


def assistant(n: int) -> Item:
    part = {"type": "output_text", "text": f"a{n}", "annotations": []}
    return {"id": f"msg_a{n}", "type": "message", "role": "assistant", "content": [part]}


def sealed_compaction(summary: str, kept: list[Item], sealer: ReasoningSealer = SEALER) -> Item:
    content = sealer.seal(json.dumps({"summary": summary, "kept": kept}), PURPOSE)
    return {"id": "cmp_1", "type": "compaction", "encrypted_content": content}


def test_a_blob_opens_only_for_the_purpose_it_was_sealed_for() -> None:
    reasoning = SEALER.seal("thinking")
    assert SEALER.open(reasoning) == "thinking"
    with pytest.raises(Tampered):
        SEALER.open(reasoning, PURPOSE)
    with pytest.raises(Tampered):
        SEALER.open(SEALER.seal("summary", PURPOSE))


def test_an_opened_compaction_is_the_item_with_its_summary_then_the_kept_items() -> None:
    opened = open_compaction(sealed_compaction("S", [user(3), assistant(3)]), SEALER)
    assert [item["id"] for item in opened] == ["cmp_1", "msg_u3", "msg_a3"]
    assert opened[0]["summary"] == "S"


def test_a_foreign_compaction_passes_unread_and_a_stored_one_that_fails_is_left_unread() -> None:
    foreign = {"id": "cmp_x", "type": "compaction", "encrypted_content": "gAAAAAB-openai"}
    assert open_compaction(foreign, SEALER) == [foreign]
    other_key = sealed_compaction("S", [], ReasoningSealer(secrets.token_bytes(32)))
    with pytest.raises(Tampered):
        open_compaction(other_key, SEALER)
    assert read_stored([user(1), other_key], {"message", "compaction"}, SEALER) == [user(1), other_key]


def test_the_summary_replaces_every_message_before_the_compaction() -> None:
    context = [
        user(1),
        assistant(1),
        *open_compaction(sealed_compaction("S", [user(2)]), SEALER),
        assistant(2),
    ]
    messages = to_chat_messages("Be brief.", context, NO_TOOLS)
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": SUMMARY_HEADING + "S"},
        {"role": "user", "content": "u2"},
        {"role": "assistant", "content": "a2"},
    ]


def test_a_compaction_in_stored_history_converts_the_same_incrementally() -> None:
    items = [user(1), assistant(1), sealed_compaction("S", [user(2)]), assistant(2)]
    stored = read_stored(items, {"message", "compaction"}, SEALER)
    cache = HistoryMessages()
    first = cache.convert(("o", "msg_u1"), stored, NO_TOOLS, "reasoning_content")
    again = cache.convert(("o", "msg_u1"), [*stored, user(3)], NO_TOOLS, "reasoning_content")
    assert again.messages == to_chat_messages(None, [*stored, user(3)], NO_TOOLS)
    assert first.messages[0]["content"] == SUMMARY_HEADING + "S"


def test_a_compaction_in_the_input_replaces_the_encoded_history_too() -> None:
    stored = [user(1), assistant(1), user(2), assistant(2)]
    kept = HistoryMessages().convert(("o", "msg_u1"), stored, NO_TOOLS, "reasoning_content")
    assert kept.encoded == 3  # the last assistant message may still grow
    new = [*open_compaction(sealed_compaction("S", [user(3)]), SEALER)]
    messages = to_chat_messages(None, new, NO_TOOLS, after=kept)
    assert type(messages) is list
    assert encode_body({"messages": messages}) == orjson.dumps(
        {"messages": to_chat_messages(None, [*stored, *new], NO_TOOLS)}
    )


def test_the_latest_turn_starts_at_the_last_user_message_after_the_last_compaction() -> None:
    context = [user(1), assistant(1), user(2), assistant(2)]
    assert split_latest_turn(context) == ([user(1), assistant(1)], [user(2), assistant(2)])
    compacted = [*open_compaction(sealed_compaction("S", []), SEALER), assistant(3)]
    older, kept = split_latest_turn(compacted)
    assert [item["id"] for item in older] == ["cmp_1", "msg_a3"]
    assert kept == []


def test_the_transcript_shows_tool_calls_and_results() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "deploy", "arguments": '{"env": "prod"}'}}
    messages: list[dict[str, Any]] = [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "deployed"},
    ]
    assert transcript(messages) == 'assistant called deploy (c1): {"env": "prod"}\n\ntool: deployed'


def test_context_management_is_parsed_and_checked() -> None:
    request = parse_create_request(
        {"model": "m", "input": "x", "context_management": [{"type": "compaction", "compact_threshold": 500}]}
    )
    assert compact_threshold(request) == 500
    assert compact_threshold(parse_create_request({"model": "m", "input": "x"})) is None
    with pytest.raises(InvalidRequest) as caught:
        parse_create_request(
            {
                "model": "m",
                "input": "x",
                "context_management": [{"type": "compaction", "compact_threshold": 0}],
            }
        )
    assert caught.value.param == "context_management[0].compact_threshold"
