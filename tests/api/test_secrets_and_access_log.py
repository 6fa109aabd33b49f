"""Secrets stay secret (logs, stored rows, errors), and every request leaves one access log line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from parley.config import ConfiguredKey, ProviderConfig
from parley.testing.fake_upstream import Reply
from tests.conftest import Harness

API_KEY = "sk-caller-secret-0123456789"
PROVIDER_KEY = "sk-provider-secret-9876543210"


async def test_no_secret_reaches_logs_stored_rows_or_errors(
    harness_factory: Callable[..., Harness], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness_factory(
        [Reply("fine"), Reply(status=401, error_body={"error": {"message": "bad key"}})],
        api_keys=(ConfiguredKey(API_KEY, "alice"),),
        providers=(ProviderConfig("default", "http://upstream.test/v1", api_key=PROVIDER_KEY),),
    )
    headers = {"authorization": f"Bearer {API_KEY}"}
    answers = [
        await h.client.post("/v1/responses", json={"model": "fake-model", "input": "hi"}, headers=headers),
        await h.client.post("/v1/responses", json={"model": "fake-model", "input": "again"}, headers=headers),
        await h.client.get("/v1/responses", headers={"authorization": f"Bearer {API_KEY}x"}),
    ]
    assert next(a.status_code for a in answers) == 200
    assert answers[1].status_code >= 400
    seen = "\n".join([*(a.text for a in answers), caplog.text])
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("parley.db*"))
    for secret in (API_KEY, PROVIDER_KEY):
        assert secret not in seen
        assert secret.encode() not in stored


async def test_each_request_logs_one_line_with_status_time_and_response_id(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parley.access")
    made = (await harness.create(input="a private question")).json()
    await harness.client.get("/v1/responses/resp_missing")
    lines = [r.getMessage() for r in caplog.records if r.name == "parley.access"]
    assert len(lines) == 2
    assert lines[0].startswith("POST /v1/responses 200 ")
    assert lines[0].endswith(f"ms {made['id']}")
    assert lines[1].startswith("GET /v1/responses/resp_missing 404 ")
    assert "private question" not in caplog.text
