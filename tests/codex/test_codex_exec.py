"""``codex exec`` end to end: the agent creates a file with apply_patch, shows it with exec_command, and
answers with what the command printed -- through Parley, over a scripted chat-completions provider.

Three ways through Parley: ``native`` sends apply_patch to the provider as a chat ``custom`` tool,
``fallback`` as a function with one ``input`` string, and ``namespace`` uses a model name for which Codex
offers a ``namespace`` tool (``multi_agent_v1``) and no apply_patch tool at all: the scripted model calls
a namespaced member first, then patches through exec_command, which Codex intercepts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.codex.conftest import (
    ANSWER_PREFIX,
    PATCH,
    RunCodex,
    agent_steps,
    chat_tools,
    tool_messages,
    tool_named,
)

Json = dict[str, Any]
MODES = {
    "native": ("gpt-5.5", True),
    "fallback": ("gpt-5.5", False),
    "namespace": ("gpt-5.1-codex-max", False),
}


def text_of(message: Json) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content)
    return str(content)


def payload(call: Json) -> Any:
    """What a chat tool call carries: a custom call's raw input, a function call's decoded arguments."""
    if call["type"] == "custom":
        return call["custom"]["input"]
    return json.loads(call["function"]["arguments"])


@pytest.mark.parametrize("mode", MODES)
def test_codex_exec_creates_a_file_and_shows_it(mode: str, run_codex: RunCodex) -> None:
    model, native = MODES[mode]
    run = run_codex(model, native_custom_tools=native)
    assert run.returncode == 0, run.describe()
    assert (run.workspace / "hello.txt").read_text() == "hello parley\n", run.describe()

    first, last = run.requests[0], run.requests[-1]
    steps = agent_steps(first)
    assert len(run.requests) == len(steps) + 1, run.describe()
    assert {r["model"] for r in run.requests} == {model}
    assert all(r["stream"] for r in run.requests)

    tools = chat_tools(first)
    if mode == "native":
        apply_patch = tools["apply_patch"]
        assert apply_patch["type"] == "custom"
        assert apply_patch["custom"]["format"]["type"] == "grammar"
        assert apply_patch["custom"]["format"]["grammar"]["syntax"] == "lark"
    elif mode == "fallback":
        apply_patch = tools["apply_patch"]
        assert apply_patch["type"] == "function"
        assert apply_patch["function"]["parameters"]["properties"] == {"input": {"type": "string"}}
        assert all(tool["type"] == "function" for tool in tools.values())
    else:
        assert "apply_patch" not in tools
        close_agent = tool_named(tools, "close_agent")
        assert close_agent is not None
        assert close_agent.startswith("multi_agent_v1")
        assert tools[close_agent]["type"] == "function"

    # Codex echoed every call back as it was made, each after the reasoning that came with it (sealed
    # in encrypted_content on the way out, opened again by Parley on the way back).
    assistant = [m for m in last["messages"] if m.get("role") == "assistant" and m.get("tool_calls")]
    made = [call for _, call in steps]
    echoed = [call for m in assistant for call in m["tool_calls"]]
    assert [(c["type"], c[c["type"]]["name"]) for c in echoed] == [(c.kind, c.name) for c in made]
    assert [payload(c) for c in echoed] == [
        c.arguments if c.kind == "custom" else json.loads(c.arguments) for c in made
    ]
    assert [m.get("reasoning_content") for m in assistant] == [reasoning for reasoning, _ in steps]
    heredoc = {"cmd": f"apply_patch <<'EOF'\n{PATCH}EOF\n"}
    assert payload(echoed[-2]) == {"native": PATCH, "fallback": {"input": PATCH}, "namespace": heredoc}[mode]

    # The tools' results came back as tool messages: the patch applied, the command printed the file.
    outputs = [text_of(m) for m in tool_messages(last)]
    assert len(outputs) == len(steps)
    assert [m["tool_call_id"] for m in tool_messages(last)] == [c["id"] for c in echoed]
    *before, patched, shown = outputs
    if mode == "namespace":
        assert before == [f"agent with id {json.loads(made[0].arguments)['target']} not found"]
    assert "Success. Updated the following files:\nA hello.txt" in patched
    assert "Process exited with code 0" in shown
    assert shown.rstrip().endswith("hello parley")

    # The final answer is the fake model's, quoting the command's output.
    assert ANSWER_PREFIX in run.stdout, run.describe()
    assert "hello parley" in run.stdout.split(ANSWER_PREFIX, 1)[1]

    # Codex sends store: false; nothing was kept.
    assert run.count("responses") == 0
    assert run.count("response_items") == 0
