"""What replay tests share: where recordings live, a transport that refuses live calls, a tool."""

from __future__ import annotations

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


def no_live_calls(config: ProviderConfig) -> httpx2.AsyncBaseTransport:
    """Replay never reaches the inner transport; if it did, this one fails the request loudly."""
    return httpx2.MockTransport(
        lambda request: httpx2.Response(599, text="live call attempted in replay mode")
    )
