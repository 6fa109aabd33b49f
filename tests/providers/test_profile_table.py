"""The README's table of inference servers is the code's table (``providers.profiles.SERVERS``),
rendered: change a row and this test says what the README must now say."""

from __future__ import annotations

from pathlib import Path

from parley.providers.profiles import GENERIC, SERVERS, Capabilities
from parley.providers.tokenize import endpoint_path

README = Path(__file__).parents[2] / "README.md"

RECOGNISED_BY = {
    "openai": "its URL (`api.openai.com`, `*.openai.azure.com`)",
    "vllm": '`owned_by: "vllm"`',
    "llama-server": '`owned_by: "llamacpp"`',
    "llama-cpp-python": '`owned_by: "me"`',
    "ollama": '`owned_by: "library"`',
    "lm-studio": '`owned_by: "organization_owner"`',
    "sglang": '`owned_by: "sglang"`',
    "tgi": "`owned_by` is the model id, `created: 0`",
    "generic": "anything else",
}


def _usage(row: Capabilities) -> str:
    if row.stream_usage:
        return "from the stream"
    if row.tokenizer != "none":
        return f"counted by `{endpoint_path(row.tokenizer)}`"
    return "estimated (o200k)"


def _required(row: Capabilities) -> str:
    if row.tool_choice_required:
        return "sent"
    return "one tool: named; else instruction + check" if row.tool_choice_named else "instruction + check"


def _named(row: Capabilities) -> str:
    if row.tool_choice_named:
        return "sent"
    return "tools narrowed, `required`" + ("" if row.tool_choice_required else " + check")


_FORMATS = {
    "json_schema": "`json_schema`",
    "json_object_schema": "`json_object` + `schema`, checked",
    "json_value": '`{"type": "json", "value": schema}`, checked',
    "json_object": "`json_object` + instruction, checked",
    "none": "instruction, checked",
}


def render_table() -> str:
    head = (
        "| server | recognised by | usage | `required` | named tool | `json_schema` | reasoning sent back as "
        "| output limit | `parallel_tool_calls` | custom tools | `<think>` | a call's `content` |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = [("generic", GENERIC), *SERVERS.items()]
    lines = []
    for name, row in rows:
        reasoning = f"`{row.reasoning_field}`" if row.reasoning_in_history else "not sent"
        limit = "`max_completion_tokens`" if row.max_completion_tokens else "`max_tokens`"
        cells = [f"`{name}`", RECOGNISED_BY[name], _usage(row), _required(row), _named(row)]
        with_tools = "" if row.format_with_tools else "; with tools: instruction, checked"
        cells += [_FORMATS[row.response_format] + with_tools, reasoning, limit]
        cells += ["sent" if row.parallel_tool_calls else "not sent"]
        cells += [
            "native" if row.native_custom_tools else "as functions",
            "read" if row.think_tags else "text",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def test_the_readme_shows_the_table_of_known_servers() -> None:
    table = render_table()
    assert table in README.read_text(), "README.md's server table is stale; it should read:\n" + table


def test_every_known_server_says_how_it_is_recognised() -> None:
    assert set(RECOGNISED_BY) == {"generic", *SERVERS}
