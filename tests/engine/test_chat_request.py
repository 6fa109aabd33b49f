"""Request fields -> the chat-completions body the provider receives."""

from __future__ import annotations

from typing import Any

import pytest

from parley.engine.chat_request import chat_body
from parley.engine.messages import drop_oldest_turn, to_chat_messages
from parley.engine.references import parsed_items
from parley.engine.toolset import Toolset
from parley.errors import InvalidRequest
from parley.wire.request import parse_create_request

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}


def body_for(**fields: Any) -> dict[str, Any]:
    request = parse_create_request({"model": "m", "input": "hi", **fields})
    toolset = Toolset(request.tools, native_custom=False)
    return chat_body(request, "upstream-m", [], toolset, request.max_output_tokens)


def test_sampling_and_limits_are_passed_when_set() -> None:
    body = body_for(
        temperature=0.2,
        top_p=0.9,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        max_output_tokens=64,
        user="u1",
        safety_identifier="s1",
        prompt_cache_key="k1",
        reasoning={"effort": "high"},
    )
    assert body["model"] == "upstream-m"
    assert body["stream_options"] == {"include_usage": True}
    for key, value in {
        "temperature": 0.2,
        "top_p": 0.9,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "max_tokens": 64,
        "user": "u1",
        "safety_identifier": "s1",
        "prompt_cache_key": "k1",
        "reasoning_effort": "high",
    }.items():
        assert body[key] == value


def test_unset_fields_are_left_to_the_provider() -> None:
    assert set(body_for()) == {"model", "messages", "stream", "stream_options"}


def test_function_tools_become_chat_tools() -> None:
    body = body_for(tools=[WEATHER], parallel_tool_calls=False)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather now.",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", "none"),
        ("required", "required"),
        (
            {"type": "function", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_forms(choice: Any, expected: Any) -> None:
    assert body_for(tools=[WEATHER], tool_choice=choice)["tool_choice"] == expected


def test_allowed_tools_narrow_the_offered_tools() -> None:
    other = {**WEATHER, "name": "get_time"}
    body = body_for(
        tools=[WEATHER, other],
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "get_time"}],
        },
    )
    assert [t["function"]["name"] for t in body["tools"]] == ["get_time"]
    assert body["tool_choice"] == "required"


def test_text_formats_map_to_response_format() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    body = body_for(
        text={"format": {"type": "json_schema", "name": "planet", "schema": schema, "strict": True}}
    )
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "planet", "schema": schema, "strict": True},
    }
    assert body_for(text={"format": {"type": "json_object"}})["response_format"] == {"type": "json_object"}
    assert "response_format" not in body_for(text={"format": {"type": "text"}})


def messages_for(items: list[dict[str, Any]], instructions: str | None = None) -> list[dict[str, Any]]:
    request = parse_create_request({"model": "m", "input": items})
    return to_chat_messages(instructions, parsed_items(request, {}), Toolset([], native_custom=False))


def test_every_role_and_part_type_converts() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    messages = messages_for(
        [
            {"role": "developer", "content": "Rules."},
            {"role": "system", "content": [{"type": "input_text", "text": "More rules."}]},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": image, "detail": "low"},
                    {"type": "input_image", "image_url": "https://example.com/cat.png"},
                    {
                        "type": "input_file",
                        "filename": "a.pdf",
                        "file_data": "data:application/pdf;base64,JVBERi0=",
                    },
                ],
            },
            {"role": "assistant", "content": "A picture."},
        ]
    )
    assert messages == [
        {"role": "system", "content": "Rules."},
        {"role": "system", "content": "More rules."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
                },
            ],
        },
        {"role": "assistant", "content": "A picture."},
    ]


def test_assistant_text_and_calls_fold_into_one_message() -> None:
    messages = messages_for(
        [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "Checking."},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": "sunny"}],
            },
        ]
    )
    assert messages[1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "sunny"}


def test_logprobs_are_asked_for_when_included() -> None:
    body = body_for(include=["message.output_text.logprobs"], top_logprobs=3)
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 3
    assert "logprobs" not in body_for()


def test_unknown_include_value_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as info:
        body_for(include=["reasoning.encrypted_content", "bogus.field"])
    assert info.value.param == "include[1]"


def test_dropping_the_oldest_turn_keeps_system_messages_and_call_results_together() -> None:
    call: dict[str, Any] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "one"},
        call,
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
        {"role": "system", "content": "late rules"},
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": "two"},
    ]
    assert drop_oldest_turn(messages) == [
        {"role": "system", "content": "rules"},
        {"role": "system", "content": "late rules"},
        {"role": "user", "content": "two"},
    ]
    assert drop_oldest_turn(messages[-1:]) is None
