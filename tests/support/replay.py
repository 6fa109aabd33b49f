"""What replay tests share: where recordings live, a transport that refuses live calls, a tool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2

from parley.config import ProviderConfig

RECORDINGS = Path(__file__).parent.parent / "recordings"

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


async def streamed(client: httpx2.AsyncClient, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a streamed ``POST /v1/responses``, checked to be whole and in order."""
    events: list[dict[str, Any]] = []
    async with client.stream("POST", "/v1/responses", json={**request, "stream": True}) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: {"):
                events.append(json.loads(line[6:]))
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert len(deltas) > 3
    assert "".join(deltas) == done["text"]
    assert events[-1]["type"] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def no_live_calls(config: ProviderConfig) -> httpx2.AsyncBaseTransport:
    """Replay never reaches the inner transport; if it did, this one fails the request loudly."""
    return httpx2.MockTransport(
        lambda request: httpx2.Response(599, text="live call attempted in replay mode")
    )
