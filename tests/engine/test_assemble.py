"""The chunk assembler, fed real provider streams (the seeds) and hand-written edge cases."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from parley.engine.assemble import Assembler
from parley.engine.emit import Emitter
from parley.engine.toolset import Toolset
from parley.errors import UpstreamProtocolError
from tests.support.seeds import seed_chunks

EVENTS: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)


def run(chunks: list[dict[str, Any]]) -> tuple[Assembler, list[dict[str, Any]]]:
    assembler = Assembler()
    emit = Emitter({"output": []})
    events = [emit(e) for chunk in chunks for e in assembler.feed(chunk)]
    events += [emit(e) for e in assembler.finish()]
    for event in events:
        EVENTS.validate_python(event)
    return assembler, events


def delta(**fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


def finish(reason: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}


def test_seed_text_stream_becomes_one_message() -> None:
    chunks = seed_chunks("002_basic_text_with_usage.json")
    assembler, events = run(chunks)
    text = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks if c["choices"])
    [message] = assembler.items
    assert message["content"] == [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    assert assembler.usage == chunks[-1]["usage"]
    assert assembler.finish_reason == "stop"
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-3:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == text


def test_seed_parallel_calls_come_out_in_order_with_their_own_indices() -> None:
    assembler, events = run(seed_chunks("003_function_call_ordering_parallel.json"))
    assert [i["call_id"] for i in assembler.items] == [
        "call_Pys4mcovEJAayru6y08G1AFJ",
        "call_h69ImcfKrTHz6PHTfDyw5nVF",
    ]
    assert [e["type"] for e in events if "delta" not in e["type"]] == [
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    first, second = assembler.items
    assert {e["output_index"] for e in events if e.get("item_id") == second["id"]} == {1}
    assert first["arguments"] == '{"location": "San Francisco, USA"}'


def test_reasoning_then_text_are_two_items() -> None:
    assembler, events = run(
        [
            delta(role="assistant", content=""),
            delta(reasoning_content="Think"),
            delta(reasoning_content="ing."),
            delta(content="Answer."),
            finish("stop"),
        ]
    )
    reasoning, message = assembler.items
    assert reasoning["type"] == "reasoning"
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Thinking."}]
    assert message["content"][0]["text"] == "Answer."
    assert "response.reasoning_text.delta" in [e["type"] for e in events]


def test_refusal_is_its_own_content_part() -> None:
    assembler, _ = run([delta(refusal="I can't help with that."), finish("stop")])
    assert assembler.items[0]["content"] == [{"type": "refusal", "refusal": "I can't help with that."}]


def test_length_finish_marks_the_last_item_incomplete() -> None:
    assembler, _ = run([delta(content="Cut sh"), finish("length")])
    assert assembler.items[0]["status"] == "incomplete"


def test_interleaved_tool_call_deltas_are_a_protocol_error() -> None:
    call = {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}
    other = {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{"}}
    assembler = Assembler()
    assembler.feed(delta(tool_calls=[call]))
    assembler.feed(delta(tool_calls=[other]))
    with pytest.raises(UpstreamProtocolError):
        assembler.feed(delta(tool_calls=[{"index": 0, "function": {"arguments": "}"}}]))


def test_missing_call_id_gets_a_generated_one() -> None:
    assembler, _ = run(
        [delta(tool_calls=[{"index": 0, "function": {"name": "f", "arguments": "{}"}}]), finish("tool_calls")]
    )
    assert assembler.items[0]["call_id"].startswith("call_")


def test_chat_logprobs_become_output_text_logprobs() -> None:
    lp = [
        {
            "token": "Hi",
            "logprob": -0.1,
            "bytes": [72, 105],
            "top_logprobs": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}],
        }
    ]
    chunk = {
        "choices": [
            {"index": 0, "delta": {"content": "Hi"}, "logprobs": {"content": lp}, "finish_reason": None}
        ]
    }
    assembler, events = run([chunk, finish("stop")])
    assert assembler.items[0]["content"][0]["logprobs"] == lp
    delta_event = next(e for e in events if e["type"] == "response.output_text.delta")
    assert delta_event["logprobs"] == lp
    assert next(e for e in events if e["type"] == "response.output_text.done")["logprobs"] == lp


def test_calls_that_reuse_an_index_with_new_ids_stay_separate() -> None:
    """Ollama sends each whole call in one chunk, every one at index 0."""
    first = {"index": 0, "id": "call_a", "function": {"name": "get_weather", "arguments": '{"city": "SF"}'}}
    second = {"index": 0, "id": "call_b", "function": {"name": "get_weather", "arguments": '{"city": "LA"}'}}
    assembler, _ = run([delta(tool_calls=[first]), delta(tool_calls=[second]), finish("tool_calls")])
    assert [(i["call_id"], i["arguments"]) for i in assembler.items] == [
        ("call_a", '{"city": "SF"}'),
        ("call_b", '{"city": "LA"}'),
    ]


def test_a_leading_think_block_becomes_a_reasoning_item() -> None:
    assembler = Assembler(think_tags=True)
    emit = Emitter({"output": []})
    chunks = [
        delta(content="<thi"),
        delta(content="nk>Saturn has"),
        delta(content=" rings.</th"),
        delta(content="ink>\n\nSaturn."),
        finish("stop"),
    ]
    events = [emit(e) for chunk in chunks for e in assembler.feed(chunk)] + [
        emit(e) for e in assembler.finish()
    ]
    for event in events:
        EVENTS.validate_python(event)
    reasoning, message = assembler.items
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Saturn has rings."}]
    assert message["content"][0]["text"] == "Saturn."


def test_think_tags_off_leaves_content_alone() -> None:
    assembler, _ = run([delta(content="<think>x</think>y"), finish("stop")])
    assert assembler.items[0]["content"][0]["text"] == "<think>x</think>y"


class _Hosted:
    """A hosted tool as the assembler sees one: only its chat name matters here."""

    def chat_tool(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}


def _call(index: int, call_id: str, name: str) -> dict[str, Any]:
    return delta(tool_calls=[{"index": index, "id": call_id, "function": {"name": name, "arguments": "{}"}}])


def _hosted_assembler() -> Assembler:
    toolset = Toolset([], native_custom=False)
    toolset.offer_hosted([_Hosted()])  # type: ignore[list-item]
    return Assembler(toolset)


def test_what_follows_a_hosted_call_is_held_in_its_after() -> None:
    assembler = _hosted_assembler()
    chunks = [_call(0, "c1", "lookup"), _call(1, "c2", "search"), _call(2, "c3", "lookup")]
    chunks.append(finish("tool_calls"))
    live = [e for chunk in chunks for e in assembler.feed(chunk)] + assembler.finish()
    [pending] = assembler.hosted_calls
    assert [e["item"]["call_id"] for e in live if e["type"] == "response.output_item.added"] == ["c1"]
    assert [e["item"]["call_id"] for e in pending.after if e["type"] == "response.output_item.done"] == ["c3"]
    assert [item["call_id"] for item in assembler.items] == ["c1", "c3"]


def test_a_failed_call_lets_out_what_it_held() -> None:
    assembler = _hosted_assembler()
    for chunk in [_call(0, "c1", "search"), _call(1, "c2", "lookup")]:
        assert assembler.feed(chunk) == []
    out = assembler.abort()
    kinds = [e["type"] for e in out if "item" in e]
    assert kinds == ["response.output_item.added", "response.output_item.done"]
    assert out[-1]["item"]["call_id"] == "c2"
    assert assembler.hosted_calls[0].after == []
