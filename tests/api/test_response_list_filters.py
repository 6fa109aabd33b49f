"""``GET /v1/responses`` narrowed by ``model``, ``status`` and creation time (Parley's own
parameters, which the UI's log filters by): each alone, together, with the cursor, and bad values
refused with OpenAI's error shape. Runs on both backends (the suite's PostgreSQL pass)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parley.testing.fake_upstream import Reply
from tests.conftest import Harness


async def listed(harness: Harness, **query: Any) -> list[str]:
    answer = await harness.client.get("/v1/responses", params=query)
    assert answer.status_code == 200, answer.text
    return [response["id"] for response in answer.json()["data"]]


async def create(harness: Harness, model: str) -> dict[str, Any]:
    answer = await harness.client.post("/v1/responses", json={"model": model, "input": "Hi."})
    found: dict[str, Any] = answer.json()
    return found


async def test_the_list_narrows_by_model_status_and_time_with_the_cursor_still_working(
    harness_factory: Callable[..., Harness],
) -> None:
    harness = harness_factory(
        [Reply(text="One."), Reply(text="Two."), Reply(status=500), Reply(text="Four.")]
    )
    first, second = await create(harness, "model-a"), await create(harness, "model-b")
    await create(harness, "model-a")  # the provider fails: a stored failed response, answered 5xx
    fourth = await create(harness, "model-a")
    [failed_id] = await listed(harness, status="failed")
    failed = {"id": failed_id}
    assert await listed(harness, model="model-a") == [fourth["id"], failed["id"], first["id"]]
    assert await listed(harness, model="model-b") == [second["id"]]
    assert await listed(harness, model="nobody") == []
    assert await listed(harness, model="model-a", status="completed") == [fourth["id"], first["id"]]
    page = await listed(harness, model="model-a", limit=1)
    assert page == [fourth["id"]]
    assert await listed(harness, model="model-a", limit=1, after=fourth["id"]) == [failed["id"]]
    assert await listed(harness, model="model-a", order="asc") == [first["id"], failed["id"], fourth["id"]]
    created = first["created_at"]
    assert set(await listed(harness, created_after=created, created_before=created + 3600)) == {
        first["id"], second["id"], failed["id"], fourth["id"]
    }  # fmt: skip
    assert await listed(harness, created_after=created + 3600) == []
    assert await listed(harness, created_before=created - 1) == []


async def test_bad_filter_values_are_400s_naming_the_parameter(harness: Harness) -> None:
    bad = (
        ({"status": "done"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": str(-(2**80))}, "created_before"),  # more than a database integer holds
    )
    for query, param in bad:
        answer = await harness.client.get("/v1/responses", params=query)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert (error["param"], error["code"], error["type"]) == (
            param,
            "invalid_value",
            "invalid_request_error",
        )
