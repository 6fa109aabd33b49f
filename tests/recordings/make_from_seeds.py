"""Turn the peer's seed recordings into Parley recordings (run once; the output is checked in).

The seeds hold what OpenAI streamed back for a chat-completions request. Parley
sends a request of its own shape for the same question and tool, so each
recording pairs Parley's request body with the seed's recorded answer.
Usage: python tests/recordings/make_from_seeds.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.seeds import load_seed, write_seed_recording

HERE = Path(__file__).parent

WEATHER_TOOL: dict[str, Any] = load_seed("003_function_call_ordering_parallel.json")["request"]["body"][
    "tools"
][0]["function"]


def text_body() -> dict[str, Any]:
    return load_seed("002_basic_text_with_usage.json")["request"]["body"]  # type: ignore[no-any-return]


def parallel_calls_body() -> dict[str, Any]:
    function = {k: WEATHER_TOOL[k] for k in ("name", "description", "parameters")}
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Is the weather better in San Francisco or Los Angeles?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [{"type": "function", "function": function}],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }


def main() -> None:
    print(write_seed_recording(HERE, "002_basic_text_with_usage.json", text_body()))
    print(write_seed_recording(HERE, "003_function_call_ordering_parallel.json", parallel_calls_body()))


if __name__ == "__main__":
    main()
