"""Reasoning summaries (``reasoning.summary``): written by one extra call to the provider's summary
model, streamed into the reasoning item in OpenAI's order, stored, summed into usage; never asked
for when not wanted, and never the reason a response fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest

from parley.config import ProviderConfig, load_settings
from parley.engine.reasoning_summary import LENGTHS
from parley.testing.fake_upstream import Reply
from tests.api.test_responses_basic import parse_sse
from tests.conftest import Harness
from tests.support.wire import check_event

Json = dict[str, Any]
REASONING = "Rings are ice. Saturn has the largest."
SUMMARY = "**Finding the ringed planet**\n\nI'm recalling which planet has the largest rings: Saturn."
SUMMARIZING = ProviderConfig("default", "http://upstream.test/v1", summary_model="summarizer")


def script(summary: Reply) -> Callable[[Json], Reply]:
    """The main model reasons then answers; the summary model answers with ``summary``."""

    def reply(body: Json) -> Reply:
        if body["model"] == "summarizer":
            return summary
        return Reply(reasoning=REASONING, text="Saturn.", prompt_tokens=10, completion_tokens=6)

    return reply


def summarizing(harness_factory: Callable[..., Harness], summary: Reply | None = None) -> Harness:
    written = summary or Reply(text=SUMMARY, prompt_tokens=30, completion_tokens=9, reasoning_tokens=2)
    return harness_factory(script(written), providers=(SUMMARIZING,))


def summary_calls(h: Harness) -> list[Json]:
    return [body for body in h.fake.requests if body["model"] == "summarizer"]


async def test_the_summary_streams_into_the_reasoning_item_in_openai_order(
    harness_factory: Callable[..., Harness],
) -> None:
    h = summarizing(harness_factory)
    r = await h.create(input="Which planet?", reasoning={"summary": "auto"}, stream=True)
    assert r.status_code == 200, r.text
    events = parse_sse(r.content)
    for event in events:
        check_event(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [kind for kind, _ in groupby(e["type"] for e in events)]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    reasoning_id = events[2]["item"]["id"]
    summary_events = [e for e in events if e["type"].startswith("response.reasoning_summary")]
    assert {(e["item_id"], e["output_index"], e["summary_index"]) for e in summary_events} == {
        (reasoning_id, 0, 0)
    }
    assert summary_events[0]["part"] == {"type": "summary_text", "text": ""}
    deltas = [e["delta"] for e in summary_events if e["type"].endswith(".delta")]
    assert len(deltas) > 1
    assert "".join(deltas) == SUMMARY
    assert summary_events[-2]["text"] == SUMMARY
    assert summary_events[-1]["part"] == {"type": "summary_text", "text": SUMMARY}
    assert "status" not in summary_events[-1]
    expected = [{"type": "summary_text", "text": SUMMARY}]
    assert events[2]["item"]["summary"] == []  # the added item went out before the summary was written
    done = events[-1]["response"]
    assert done["output"][0]["summary"] == expected
    assert done["output"][0]["content"] == [{"type": "reasoning_text", "text": REASONING}]
    assert (await h.client.get(f"/v1/responses/{done['id']}")).json() == done


async def test_non_streamed_summary_is_stored_and_its_usage_summed(
    harness_factory: Callable[..., Harness],
) -> None:
    h = summarizing(harness_factory)
    r = await h.create(input="Which planet?", reasoning={"summary": "concise", "effort": "low"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"][0]["summary"] == [{"type": "summary_text", "text": SUMMARY}]
    assert body["output"][1]["content"][0]["text"] == "Saturn."
    assert body["usage"] == {
        "input_tokens": 40,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 15,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 55,
    }
    assert (await h.client.get(f"/v1/responses/{body['id']}")).json() == body
    [call] = summary_calls(h)
    assert LENGTHS["concise"] in call["messages"][0]["content"]
    assert call["messages"][1] == {"role": "user", "content": f"The reasoning to summarize:\n\n{REASONING}"}
    assert set(call) == {"model", "messages", "stream", "stream_options"}


async def test_detailed_is_asked_for_auto_and_detailed(harness_factory: Callable[..., Harness]) -> None:
    h = summarizing(harness_factory)
    for mode in ("auto", "detailed"):
        assert (await h.create(input="Which planet?", reasoning={"summary": mode})).status_code == 200
    prompts = [call["messages"][0]["content"] for call in summary_calls(h)]
    assert len(prompts) == 2
    assert all(LENGTHS["detailed"] in prompt for prompt in prompts)


async def test_a_background_response_carries_the_summary(harness_factory: Callable[..., Harness]) -> None:
    h = summarizing(harness_factory)
    queued = (await h.create(input="Which planet?", reasoning={"summary": "auto"}, background=True)).json()
    for _ in range(500):
        found = (await h.client.get(f"/v1/responses/{queued['id']}")).json()
        if found["status"] not in ("queued", "in_progress"):
            break
        await asyncio.sleep(0.01)
    assert found["status"] == "completed"
    assert found["output"][0]["summary"] == [{"type": "summary_text", "text": SUMMARY}]


async def test_a_failed_summary_call_leaves_the_summary_empty_and_the_response_whole(
    harness_factory: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    h = summarizing(harness_factory, Reply(status=500))
    with caplog.at_level(logging.WARNING, logger="parley.engine.reasoning_summary"):
        r = await h.create(input="Which planet?", reasoning={"summary": "auto"}, stream=True)
    events = parse_sse(r.content)
    assert not [e for e in events if e["type"].startswith("response.reasoning_summary")]
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["summary"] == []
    assert done["output"][1]["content"][0]["text"] == "Saturn."
    assert (done["usage"]["input_tokens"], done["usage"]["output_tokens"]) == (10, 6)
    assert len(summary_calls(h)) == 1
    assert "reasoning summary of" in caplog.text
    assert "left empty" in caplog.text


async def test_a_summary_cut_short_is_kept_and_its_part_marked_incomplete(
    harness_factory: Callable[..., Harness],
) -> None:
    h = summarizing(harness_factory, Reply(text=SUMMARY, break_after_chunks=4))
    r = await h.create(input="Which planet?", reasoning={"summary": "auto"}, stream=True)
    events = parse_sse(r.content)
    for event in events:
        check_event(event)
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    assert SUMMARY.startswith(deltas)
    assert "" != deltas != SUMMARY
    [part_done] = [e for e in events if e["type"] == "response.reasoning_summary_part.done"]
    assert part_done["status"] == "incomplete"
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["summary"] == [{"type": "summary_text", "text": deltas}]


async def test_no_summary_asked_means_no_extra_call(harness_factory: Callable[..., Harness]) -> None:
    h = summarizing(harness_factory)
    r = await h.create(input="Which planet?", reasoning={"effort": "low"}, stream=True)
    events = parse_sse(r.content)
    assert not [e for e in events if e["type"].startswith("response.reasoning_summary")]
    assert events[-1]["response"]["output"][0]["summary"] == []
    assert len(h.fake.requests) == 1


async def test_no_summary_model_means_no_extra_call(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(script(Reply(text=SUMMARY)))
    r = await h.create(input="Which planet?", reasoning={"summary": "detailed"}, stream=True)
    events = parse_sse(r.content)
    assert not [e for e in events if e["type"].startswith("response.reasoning_summary")]
    assert events[-1]["response"]["output"][0]["summary"] == []
    assert len(h.fake.requests) == 1


async def test_an_answer_without_reasoning_needs_no_summary(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="Saturn.")], providers=(SUMMARIZING,))
    r = await h.create(input="Which planet?", reasoning={"summary": "auto"})
    assert r.json()["output"][0]["type"] == "message"
    assert len(h.fake.requests) == 1


def test_the_summary_model_comes_from_the_provider_or_the_deployment(tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(
        'summary_model = "small"\n'
        '[[providers]]\nname = "own"\nurl = "http://a.test/v1"\nsummary_model = "tiny"\n'
        '[[providers]]\nname = "default"\nurl = "http://b.test/v1"\n'
        '[[providers]]\nname = "off"\nurl = "http://c.test/v1"\nsummary_model = ""\n'
    )
    settings = load_settings({"config": str(config)}, environ={})
    chosen = {p.name: p.summary_model_or(settings.summary_model) for p in settings.providers}
    assert chosen == {"own": "tiny", "default": "small", "off": None}
    env = load_settings({"config": str(config)}, environ={"PARLEY_SUMMARY_MODEL": "other"})
    assert env.summary_model == "other"
    assert load_settings({}, environ={}).summary_model is None
