"""``item_reference`` inputs: resolved from the chain, or from any response the caller stored."""

from __future__ import annotations

from collections.abc import Callable

from parley.config import ConfiguredKey
from parley.testing.fake_upstream import Reply
from tests.conftest import Harness

KEYS = (ConfiguredKey("sk-alice-0123456789abcdef", "alice"), ConfiguredKey("sk-bob-0123456789abcdef", "bob"))


def as_(index: int) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[index].key}"}


async def test_a_reference_without_a_chain_reads_the_callers_stored_item(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory(
        [Reply(text="Saturn.", reasoning="Rings: Saturn."), Reply(text="Titan.")] * 2, api_keys=KEYS
    )
    first = (
        await h.client.post("/v1/responses", json={"model": "fake-model", "input": "Ringed?"}, headers=as_(0))
    ).json()
    reasoning = next(item for item in first["output"] if item["type"] == "reasoning")
    body = {
        "model": "fake-model",
        "input": [
            {"type": "item_reference", "id": reasoning["id"]},
            {"role": "user", "content": "Its largest moon?"},
        ],
    }
    answered = await h.client.post("/v1/responses", json=body, headers=as_(0))
    assert answered.status_code == 200, answered.text
    assert h.fake.requests[1]["messages"][0]["reasoning_content"] == "Rings: Saturn."

    refused = await h.client.post("/v1/responses", json=body, headers=as_(1))  # bob: alice's item
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "message": f"Item with id '{reasoning['id']}' not found.",
        "type": "invalid_request_error",
        "param": "input[0].id",
        "code": "item_not_found",
    }


async def test_outside_a_chain_only_reasoning_is_found_by_reference(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="Saturn."), Reply(text="Again.")], api_keys=KEYS)
    first = (
        await h.client.post("/v1/responses", json={"model": "fake-model", "input": "Hi"}, headers=as_(0))
    ).json()
    message_id = first["output"][0]["id"]
    body = {"model": "fake-model", "input": [{"type": "item_reference", "id": message_id}]}
    refused = await h.client.post("/v1/responses", json=body, headers=as_(0))
    assert refused.status_code == 400  # a client has its messages whole: it sends them, not their ids
    assert refused.json()["error"]["code"] == "item_not_found"
    chained = await h.client.post(
        "/v1/responses", json={**body, "previous_response_id": first["id"]}, headers=as_(0)
    )
    assert chained.status_code == 200, chained.text  # in its chain, any item is found
