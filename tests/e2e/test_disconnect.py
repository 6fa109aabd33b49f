"""A client that goes away mid-stream: the response is recorded as failed and the server carries on."""

from __future__ import annotations

import time

import httpx2

from parley.testing.fake_upstream import Reply
from tests.e2e.conftest import ScriptedUpstream


def test_abandoned_stream_is_stored_as_failed(parley_url: str, upstream: ScriptedUpstream) -> None:
    upstream.script(Reply(text="word " * 200, token_delay=0.01), Reply(text="still here"))
    body = {"model": "fake-model", "input": "talk slowly", "stream": True}
    with httpx2.Client(base_url=parley_url, timeout=10) as client:
        with client.stream("POST", "/responses", json=body) as stream:
            lines = stream.iter_lines()
            response_id = None
            for line in lines:
                if line.startswith("data: ") and '"response.created"' in line:
                    response_id = line.split('"id":"', 1)[1].split('"', 1)[0]
                if line.startswith("event: response.output_text.delta"):
                    break
        assert response_id is not None
        deadline = time.monotonic() + 5
        while True:
            stored = client.get(f"/responses/{response_id}").json()
            if stored["status"] != "in_progress" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert stored["status"] == "failed"
        assert stored["error"]["code"] == "server_error"
        assert "client went away" in stored["error"]["message"]
        after = client.post("/responses", json={"model": "fake-model", "input": "hello?"})
        assert after.json()["output"][0]["content"][0]["text"] == "still here"


def test_a_streaming_response_can_be_retrieved_in_progress(
    parley_url: str, upstream: ScriptedUpstream
) -> None:
    upstream.script(Reply(text="one two three four five six", token_delay=0.02))
    body = {"model": "fake-model", "input": "count", "stream": True}
    with httpx2.Client(base_url=parley_url, timeout=10) as client:
        with client.stream("POST", "/responses", json=body) as stream:
            response_id = None
            midway = None
            for line in stream.iter_lines():
                if line.startswith("data: ") and '"response.created"' in line:
                    response_id = line.split('"id":"', 1)[1].split('"', 1)[0]
                if line.startswith("event: response.output_text.delta") and midway is None:
                    midway = client.get(f"/responses/{response_id}").json()
        assert midway is not None
        assert midway["status"] == "in_progress"
        assert midway["output"][0]["type"] == "message"
        done = client.get(f"/responses/{response_id}").json()
        assert done["status"] == "completed"
        assert done["output"][0]["content"][0]["text"] == "one two three four five six"
