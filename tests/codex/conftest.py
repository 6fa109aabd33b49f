"""The real Codex CLI against ``parley serve`` over a scripted chat-completions provider, all on loopback.

``codex_bin`` installs the pinned ``@openai/codex`` once per session with ``scripts/install-codex`` (npm).
Without npm the tests are skipped, except in CI where they must run. ``run_codex`` starts a scripted
upstream (``codex_script`` plays the model) and Parley, each with uvicorn in a thread, and runs
``codex exec`` in a fresh workspace with a fresh ``HOME`` and ``CODEX_HOME``.

Codex must stay offline and never prompt. Left to its defaults, 0.169.0 runs
``git ls-remote https://github.com/openai/plugins.git`` and looks up api.github.com and chatgpt.com
(``features.plugins``), and at exit now and then ab.chatgpt.com (``analytics``); ``CODEX_CONFIG`` turns
those off, with apps, remote plugins, update checks, feedback, OpenTelemetry export, history and the
login-shell snapshot, and sets ``approval_policy = "never"``. ``--strict-config`` makes a misspelt key
an error instead of a silently ignored one. As a safety net every proxy variable points at a closed
loopback port, so whatever still tried the internet would fail rather than leave the machine, while
``NO_PROXY`` keeps Parley reachable. ``stdin`` is ``/dev/null``: ``codex exec`` would otherwise wait to
append it to the prompt.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from parley.app import create_app
from parley.config import ProviderConfig, Settings
from parley.testing.fake_upstream import FakeUpstream, Reply, ToolCall
from tests.e2e.conftest import serve

Json = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-codex"
CODEX_VERSION = "0.169.0"
CODEX_TIMEOUT = 120.0

PROMPT = "create hello.txt containing hello parley, then show me its contents"
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello parley\n*** End Patch\n"
SHOW = "cat hello.txt"
NO_AGENT = "00000000-0000-0000-0000-000000000000"
"""A well-formed agent id no agent has: closing it is a harmless namespaced call Codex answers itself."""
ANSWER_PREFIX = "The file says: "
DEAD_PROXY = "http://127.0.0.1:9"

CODEX_CONFIG = """\
model_provider = "parley"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"

[history]
persistence = "none"

[features]
plugins = false
remote_plugin = false
apps = false
shell_snapshot = false

[model_providers.parley]
name = "Parley"
base_url = {base_url}
wire_api = "responses"
env_key = "PARLEY_TEST_KEY"
request_max_retries = 0
stream_max_retries = 0
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    """The ``codex`` command of the pinned ``@openai/codex``, installed under ``.cache/codex``."""
    if shutil.which("npm") is None:
        reason = f"npm is not on PATH: the Codex CLI tests install @openai/codex@{CODEX_VERSION} with it"
        if _in_ci():
            pytest.fail(f"{reason}; CI must run them, so put Node.js 20+ with npm on the machine.")
        pytest.skip(reason)
    done = subprocess.run(
        [str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600, check=False, cwd=REPO_ROOT
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/install-codex failed ({done.returncode}):\n{done.stderr}")
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.exists(), f"scripts/install-codex printed {path}, which does not exist"
    return path


# -- the scripted model ---------------------------------------------------------------------------------


def chat_tools(body: Json) -> dict[str, Json]:
    """The tools a chat request offers, by name: ``{"type": "function"|"custom", <type>: {...}}``."""
    tools: dict[str, Json] = {}
    for tool in body.get("tools") or []:
        spec = tool.get(tool.get("type")) or {}
        tools[str(spec.get("name"))] = tool
    return tools


def tool_named(tools: dict[str, Json], suffix: str) -> str | None:
    """The chat name of the tool called ``suffix``, possibly behind a namespace prefix."""
    if suffix in tools:
        return suffix
    return next((name for name in tools if name.endswith(suffix)), None)


def tool_messages(body: Json) -> list[Json]:
    return [m for m in body.get("messages") or [] if m.get("role") == "tool"]


def patch_call(tools: dict[str, Json], exec_name: str) -> ToolCall:
    """Create hello.txt the way the offered tools allow: natively, through the fallback, or a shell."""
    tool = tools.get("apply_patch")
    if tool is not None and tool["type"] == "custom":
        return ToolCall("apply_patch", PATCH, kind="custom")
    if tool is not None:
        return ToolCall("apply_patch", json.dumps({"input": PATCH}))
    # No apply_patch tool (the model family Codex falls back to for unknown models): Codex intercepts
    # an `apply_patch` heredoc in exec_command and applies it itself.
    return ToolCall(exec_name, json.dumps({"cmd": f"apply_patch <<'EOF'\n{PATCH}EOF\n"}))


def agent_steps(body: Json) -> list[tuple[str, ToolCall]]:
    """The calls the agent makes in order, each with the reasoning the model gives before it."""
    tools = chat_tools(body)
    exec_name = tool_named(tools, "exec_command")
    assert exec_name is not None, f"no exec_command among the offered tools {sorted(tools)}"
    steps: list[tuple[str, ToolCall]] = []
    close_agent = tool_named(tools, "close_agent")
    if close_agent is not None and close_agent != "close_agent":
        steps.append(
            ("First, no sub-agent may be left.", ToolCall(close_agent, json.dumps({"target": NO_AGENT})))
        )
    steps.append(("I will create the file with a patch.", patch_call(tools, exec_name)))
    steps.append(("Now I show its contents.", ToolCall(exec_name, json.dumps({"cmd": SHOW}))))
    return steps


def codex_script(body: Json) -> Reply:
    """Play the agent, from nothing but the request (Codex is stateless, so is this).

    One call per tool result received so far; when every call has its result, a final answer that
    quotes the last one (the command's output).
    """
    steps = agent_steps(body)
    done = tool_messages(body)
    if len(done) < len(steps):
        reasoning, call = steps[len(done)]
        return Reply(reasoning=reasoning, tool_calls=[call])
    return Reply(text=ANSWER_PREFIX + str(done[-1].get("content")))


# -- one run ---------------------------------------------------------------------------------------------


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str
    workspace: Path
    data_dir: Path
    requests: list[Json]
    """The chat-completions requests the scripted provider received."""

    def describe(self) -> str:
        return f"codex exited {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def count(self, table: str) -> int:
        with contextlib.closing(sqlite3.connect(self.data_dir / "parley.db")) as db:
            row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0])


def codex_env(home: Path, codex_home: Path) -> dict[str, str]:
    """Only what Codex needs; nothing of the caller's OpenAI or proxy settings leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "PARLEY_TEST_KEY": "parley-test-key",
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = DEAD_PROXY
    return env


def run_process(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run in its own process group, so that a timeout ends Codex and everything it started."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # else `codex exec` waits to append stdin to the prompt
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=CODEX_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"codex exec did not finish within {CODEX_TIMEOUT} s\n{stdout}\n{stderr}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever Codex left running in its group
    return proc.returncode, stdout, stderr


RunCodex = Callable[..., CodexRun]


@pytest.fixture
def run_codex(codex_bin: Path, tmp_path: Path) -> RunCodex:
    def run(model: str, *, native_custom_tools: bool = False) -> CodexRun:
        dirs = {name: tmp_path / name for name in ("workspace", "home", "codex-home", "parley-data")}
        for path in dirs.values():
            path.mkdir()
        fake = FakeUpstream(codex_script)
        with serve(fake.app, name="upstream", lifespan="off", probe="/v1/models") as upstream_port:
            native = {"native_custom_tools": native_custom_tools}
            provider = ProviderConfig("default", f"http://127.0.0.1:{upstream_port}/v1", capabilities=native)
            app = create_app(Settings(data_dir=dirs["parley-data"], providers=(provider,)))
            with serve(app, name="parley", lifespan="on", probe="/health") as parley_port:
                base_url = json.dumps(f"http://127.0.0.1:{parley_port}/v1")
                (dirs["codex-home"] / "config.toml").write_text(CODEX_CONFIG.format(base_url=base_url))
                cmd = [str(codex_bin), "exec", "--skip-git-repo-check", "--strict-config", "--ephemeral"]
                cmd += ["--color", "never", "-m", model, PROMPT]
                returncode, stdout, stderr = run_process(
                    cmd, dirs["workspace"], codex_env(dirs["home"], dirs["codex-home"])
                )
        return CodexRun(returncode, stdout, stderr, dirs["workspace"], dirs["parley-data"], fake.requests)

    return run
