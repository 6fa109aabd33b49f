"""MCP traffic goes through the record/replay harness: recorded once against a real MCP server on
loopback, then replayed through Parley with that server gone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parley.recording import RecordingStore
from parley.testing.fake_upstream import Reply, ToolCall
from tests.conftest import Harness
from tests.e2e.test_mcp import mcp_tool, sdk_for
from tests.support.mcp_server import McpTestServer


def _script() -> list[Reply]:
    return [Reply(tool_calls=[ToolCall("demo__add", '{"a": 2, "b": 3}')]), Reply(text="It is 5.")]


def _paths(directory: Path) -> list[str]:
    store = RecordingStore(directory)
    documents = [store.load(path.stem) for path in directory.rglob("*.json")]
    return sorted(f"{doc.request['method']} {doc.request['path']}" for doc in documents if doc is not None)


async def _ask(h: Harness, url: str) -> Any:
    return await sdk_for(h).responses.create(model="fake-model", input="2+3?", tools=[mcp_tool(url)])


async def test_an_mcp_list_and_call_recorded_once_replay_with_the_server_stopped(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    recordings = tmp_path / "recordings"
    server = McpTestServer().start()
    url = server.http_url
    try:
        recorder = harness_factory(
            _script(),
            allow_private_urls=True,
            recording_mode="record",
            recordings_dir=recordings,
            data_dir=tmp_path / "recording",
        )
        recorded = await _ask(recorder, url)
    finally:
        server.stop()
    assert [item.type for item in recorded.output] == ["mcp_list_tools", "mcp_call", "message"]
    mcp_paths = [path for path in _paths(recordings) if path.endswith("/mcp")]
    assert mcp_paths.count("POST /mcp") >= 3  # initialize, initialized, tools/list, tools/call
    assert "GET /mcp" not in mcp_paths  # the standalone stream is a channel, not an answer

    replayer = harness_factory(
        [],
        allow_private_urls=True,
        recording_mode="replay",
        recordings_dir=recordings,
        data_dir=tmp_path / "replay",
    )
    replayed = await _ask(replayer, url)

    assert replayed.status == "completed"
    assert [item.type for item in replayed.output] == ["mcp_list_tools", "mcp_call", "message"]
    listed, call = replayed.output[0], replayed.output[1]
    assert listed.type == "mcp_list_tools"
    assert listed.error is None
    assert sorted(tool.name for tool in listed.tools) == ["add", "explode", "greet"]
    assert call.type == "mcp_call"
    assert (call.output, call.error) == ("5", None)
    assert replayed.output_text == "It is 5."
    assert replayer.fake.requests == []  # the model's answers were replayed too


async def test_the_sse_transport_is_not_replayable_and_says_so(
    harness_factory: Callable[..., Harness], tmp_path: Path
) -> None:
    """Its answers come on one long-lived GET stream, which is never recorded."""
    h = harness_factory(
        [], allow_private_urls=True, recording_mode="replay", recordings_dir=tmp_path / "recordings"
    )
    answer = await h.create(input="2+3?", tools=[mcp_tool("http://127.0.0.1:9/sse")], stream=True)
    lines = [line[5:] for line in answer.text.splitlines() if line.startswith("data:")]
    events = [json.loads(line) for line in lines if line.strip() != "[DONE]"]
    [listed] = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert listed["type"] == "mcp_list_tools"
    assert "No recording for GET /sse" in listed["error"]
