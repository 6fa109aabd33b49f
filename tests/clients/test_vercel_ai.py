"""The Vercel AI SDK (npm ``ai`` with ``@ai-sdk/openai``) against Parley, run with node.

``@ai-sdk/openai``'s default model speaks the Responses API; ``generateText`` and ``streamText`` with a
tool run the SDK's own tool loop over ``POST /v1/responses``. The pinned packages (node/package.json
and node/package-lock.json) are installed from npm once per lock file into a cache directory outside
the repository (``PARLEY_NODE_CACHE``, else ``$XDG_CACHE_HOME/parley/node-clients``, else
``~/.cache/parley/node-clients``), so later runs on the same machine start at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from parley.testing.fake_upstream import Reply, ToolCall
from tests.e2e.conftest import ScriptedUpstream

Json = dict[str, Any]
NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "vercel_ai.mjs"
MANIFESTS = ("package.json", "package-lock.json")
INSTALL_TIMEOUT = 300.0
RUN_TIMEOUT = 60.0


def cache_root() -> Path:
    if configured := os.environ.get("PARLEY_NODE_CACHE"):
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "parley" / "node-clients"


def installed_packages(npm: str) -> Path:
    """The ``node_modules`` of the pinned lock file, installed with ``npm ci`` unless already cached.

    The install happens in a scratch directory renamed into place only once complete, so an
    interrupted install is never taken for a cached one."""
    digest = hashlib.sha256(b"".join((NODE_DIR / name).read_bytes() for name in MANIFESTS)).hexdigest()
    target = cache_root() / digest[:16]
    if not (target / "node_modules").is_dir():
        scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        for name in MANIFESTS:
            shutil.copy(NODE_DIR / name, scratch / name)
        command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"]
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        if done.returncode != 0:
            pytest.fail(f"npm ci of {NODE_DIR} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        try:
            scratch.rename(target)
        except OSError:  # another run installed the same lock file meanwhile: keep theirs
            shutil.rmtree(scratch, ignore_errors=True)
    return target / "node_modules"


@pytest.fixture(scope="session")
def node_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the client script beside a link to the cached ``node_modules``."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the Vercel AI SDK client tests need node >= 18 (and npm)")
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(f"node is at {node} but npm is not on PATH: it installs the pinned AI SDK packages")
    workdir = tmp_path_factory.mktemp("vercel-ai")
    (workdir / "node_modules").symlink_to(installed_packages(npm), target_is_directory=True)
    shutil.copy(SCRIPT, workdir / SCRIPT.name)
    return workdir


def run_client(workdir: Path, parley_url: str, scenario: str, prompt: str) -> Json:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "PARLEY_BASE_URL": parley_url}
    done = subprocess.run(
        ["node", SCRIPT.name, scenario, prompt],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, f"node {scenario} failed:\n{done.stderr[-3000:]}"
    result: Json = json.loads(done.stdout)
    return result


def weather_script(city: str, answer: str) -> tuple[Reply, Reply]:
    return Reply(tool_calls=[ToolCall("get_weather", json.dumps({"city": city}))]), Reply(text=answer)


def check_tool_loop(result: Json, upstream: ScriptedUpstream, city: str, answer: str) -> None:
    """Two steps: the tool call, run by the SDK, then the answer made from the tool's output."""
    call_step, answer_step = result["steps"]
    [call] = call_step["toolCalls"]
    assert (call["name"], call["input"]) == ("get_weather", {"city": city})
    assert call["id"].startswith("call_")
    assert call_step["toolResults"] == [{"id": call["id"], "output": f"{city}: 21 C and sunny"}]
    assert call_step["finishReason"] == "tool-calls"
    assert answer_step["finishReason"] == "stop"
    assert answer_step["text"] == answer == result["text"]
    assert call_step["responseId"].startswith("resp_")
    assert answer_step["responseId"] != call_step["responseId"]
    sent_output = result["sent"][1]["input"][-1]
    assert sent_output == {
        "type": "function_call_output",
        "call_id": call["id"],
        "output": call_step["toolResults"][0]["output"],
    }
    first, second = upstream.requests
    assert [tool["function"]["name"] for tool in first["tools"]] == ["get_weather"]
    *_, assistant, tool_message = second["messages"]
    assert assistant["tool_calls"][0]["id"] == call["id"]
    assert tool_message["role"] == "tool"
    assert tool_message["tool_call_id"] == call["id"]
    assert tool_message["content"] == f"{city}: 21 C and sunny"
    assert upstream.unused == 0


def test_generate_text_with_tool(node_workdir: Path, parley_url: str, upstream: ScriptedUpstream) -> None:
    upstream.script(*weather_script("Paris", "It is 21 C and sunny in Paris."))

    result = run_client(node_workdir, parley_url, "generate", "Weather in Paris?")

    check_tool_loop(result, upstream, "Paris", "It is 21 C and sunny in Paris.")
    assert result["usage"]["inputTokens"] > 0
    assert result["usage"]["outputTokens"] > 0


def test_stream_text_with_tool(node_workdir: Path, parley_url: str, upstream: ScriptedUpstream) -> None:
    upstream.script(*weather_script("Oslo", "Oslo is sunny at 21 C."))

    result = run_client(node_workdir, parley_url, "stream", "Weather in Oslo?")

    check_tool_loop(result, upstream, "Oslo", "Oslo is sunny at 21 C.")
    assert len(result["deltas"]) > 1
    assert "".join(result["deltas"]) == "Oslo is sunny at 21 C."
    for part in ("tool-input-start", "tool-call", "tool-result", "text-delta", "finish-step", "finish"):
        assert part in result["parts"]
    assert all(request["stream"] is True for request in upstream.requests)


def test_reasoning_round_trip_by_item_reference(
    node_workdir: Path, parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(
        Reply(reasoning="The tool knows.", tool_calls=[ToolCall("get_weather", '{"city": "Rome"}')]),
        Reply(text="Rome is sunny."),
    )

    result = run_client(node_workdir, parley_url, "generate", "Weather in Rome?")

    assert result["text"] == "Rome is sunny."
    assert result["sent"][1]["input"][1]["type"] == "item_reference"
    assert upstream.requests[1]["messages"][-2]["reasoning_content"] == "The tool knows."
