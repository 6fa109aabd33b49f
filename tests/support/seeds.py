"""The peer's recorded upstream calls (tests/seeds/, copied from shared/seeds) in the shapes tests need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import orjson

from parley.recording.normalize import normalize_request
from parley.recording.store import Recording, RecordingStore

SEEDS = Path(__file__).parent.parent / "seeds"


def load_seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEEDS / name).read_text())
    return data


def seed_chunks(name: str) -> list[dict[str, Any]]:
    """The ChatCompletionChunk objects the provider streamed, as plain JSON."""
    return [entry["__data__"] for entry in load_seed(name)["response"]["body"]]


def seed_recording(name: str, body: dict[str, Any]) -> Recording:
    """A Parley recording answering ``body`` with the seed's streamed chunks, as a live call would have."""
    normalized = normalize_request(
        "POST", httpx2.URL("http://upstream.test/v1/chat/completions"), orjson.dumps(body)
    )
    sse = (
        b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in seed_chunks(name))
        + b"data: [DONE]\n\n"
    )
    return Recording(
        request=normalized, status=200, headers={"content-type": "text/event-stream"}, content=sse
    )


def write_seed_recording(directory: Path, name: str, body: dict[str, Any]) -> Path:
    return RecordingStore(directory).save(seed_recording(name, body))
