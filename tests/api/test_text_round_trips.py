"""What a caller writes comes back as written, on either backend (``PARLEY_TEST_BACKEND``):
metadata keys in the caller's order, NUL characters inside JSON values; a NUL in a plain text
field, which PostgreSQL cannot store, is a clear 400 there rather than a 500."""

from __future__ import annotations

from collections.abc import Callable

from parley.testing.fake_upstream import Reply
from tests.conftest import HARNESS_BACKEND, Harness


async def test_metadata_comes_back_in_the_callers_order_with_nul_characters(harness: Harness) -> None:
    metadata = {"zeta": "1", "a": "x\u0000y", "mid": "3"}
    made = await harness.client.post("/v1/conversations", json={"metadata": metadata})
    assert made.status_code == 200, made.text
    read = await harness.client.get(f"/v1/conversations/{made.json()['id']}")
    assert list(read.json()["metadata"].items()) == list(metadata.items())
    store = await harness.client.post("/v1/vector_stores", json={"name": "notes", "metadata": metadata})
    assert list(store.json()["metadata"].items()) == list(metadata.items())


async def test_a_nul_in_input_text_is_kept(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="ok")])
    r = await h.create(input="a\u0000b")
    assert r.status_code == 200, r.text
    items = await h.client.get(f"/v1/responses/{r.json()['id']}/input_items")
    assert items.json()["data"][0]["content"][0]["text"] == "a\u0000b"


async def test_a_nul_in_a_name_is_stored_or_refused_plainly(harness: Harness) -> None:
    r = await harness.client.post("/v1/vector_stores", json={"name": "n\u0000m"})
    if HARNESS_BACKEND == "postgres":
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_value"
        assert "NUL character" in r.json()["error"]["message"]
    else:
        assert r.status_code == 200
        assert r.json()["name"] == "n\u0000m"
