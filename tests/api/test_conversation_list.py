"""``GET /v1/conversations``, Parley's extension: an owner's conversations newest first, paged by
``after`` like the other lists, each owner blind to the others'. Runs over PostgreSQL too (the
harness's second pass)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from parley.config import ConfiguredKey
from tests.conftest import Harness

ALICE, BOB = "sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef"
KEYS = (ConfiguredKey(ALICE, "alice"), ConfiguredKey(BOB, "bob"))
Json = dict[str, Any]


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(harness_factory: Callable[..., Harness]) -> Harness:
    return harness_factory(api_keys=KEYS)


async def make(h: Harness, count: int, key: str = ALICE) -> list[Json]:
    """``count`` conversations, oldest first, each with metadata ``n`` = its position."""
    made = []
    for n in range(count):
        r = await h.client.post("/v1/conversations", json={"metadata": {"n": str(n)}}, headers=auth(key))
        assert r.status_code == 200, r.text
        made.append(r.json())
    return made


async def listed(h: Harness, query: str = "", key: str = ALICE) -> Json:
    r = await h.client.get(f"/v1/conversations{query}", headers=auth(key))
    assert r.status_code == 200, r.text
    body: Json = r.json()
    return body


async def test_newest_first_by_default_oldest_first_on_asking(keyed: Harness) -> None:
    made = await make(keyed, 4)
    newest_first = await listed(keyed)
    assert newest_first["object"] == "list"
    assert newest_first["data"] == list(reversed(made))  # the objects GET /{id} gives, whole
    assert (newest_first["first_id"], newest_first["last_id"]) == (made[-1]["id"], made[0]["id"])
    assert newest_first["has_more"] is False
    assert (await listed(keyed, "?order=asc"))["data"] == made
    one = (await keyed.client.get(f"/v1/conversations/{made[2]['id']}", headers=auth(ALICE))).json()
    assert one == made[2]


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_pages_by_after_cover_every_conversation_once(keyed: Harness, order: str) -> None:
    made = await make(keyed, 5)
    expected = [c["id"] for c in (made if order == "asc" else reversed(made))]
    seen: list[str] = []
    query = f"?limit=2&order={order}"
    pages = []
    while True:
        page = await listed(keyed, query)
        pages.append(page["has_more"])
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        query = f"?limit=2&order={order}&after={page['last_id']}"
    assert seen == expected
    assert pages == [True, True, False]


async def test_limit_defaults_to_20_and_is_bounded(keyed: Harness) -> None:
    await make(keyed, 21)
    page = await listed(keyed)
    assert (len(page["data"]), page["has_more"]) == (20, True)
    assert len((await listed(keyed, "?limit=100"))["data"]) == 21
    assert len((await listed(keyed, "?limit=1"))["data"]) == 1
    for query, param in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                         ("order=sideways", "order")]:  # fmt: skip
        r = await keyed.client.get(f"/v1/conversations?{query}", headers=auth(ALICE))
        assert r.status_code == 400, query
        error = r.json()["error"]
        assert (error["param"], error["code"]) == (param, "invalid_value")
        assert error["type"] == "invalid_request_error"


async def test_an_unknown_after_is_an_empty_page_as_for_responses(keyed: Harness) -> None:
    await make(keyed, 2)
    unknown = "conv_" + "0" * 48
    page = await listed(keyed, f"?after={unknown}")
    assert page == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    responses = await keyed.client.get("/v1/responses?after=resp_" + "0" * 48, headers=auth(ALICE))
    assert responses.json()["data"] == []


async def test_owners_never_see_each_others(keyed: Harness) -> None:
    alices = await make(keyed, 3, ALICE)
    bobs = await make(keyed, 2, BOB)
    assert (await listed(keyed, key=ALICE))["data"] == list(reversed(alices))
    assert (await listed(keyed, key=BOB))["data"] == list(reversed(bobs))
    # Another owner's id as the cursor names nothing: no page of alice's shows through it.
    assert (await listed(keyed, f"?after={alices[-1]['id']}", key=BOB))["data"] == []
    assert (await listed(keyed, f"?after={alices[-1]['id']}&order=asc", key=BOB))["data"] == []


async def test_deleted_conversations_are_gone_from_the_list(keyed: Harness) -> None:
    made = await make(keyed, 3)
    r = await keyed.client.delete(f"/v1/conversations/{made[1]['id']}", headers=auth(ALICE))
    assert r.status_code == 200, r.text
    assert [c["id"] for c in (await listed(keyed))["data"]] == [made[2]["id"], made[0]["id"]]
    assert (await listed(keyed, f"?after={made[1]['id']}"))["data"] == []


async def test_without_keys_the_anonymous_owner_lists_its_own(harness: Harness) -> None:
    r = await harness.client.post("/v1/conversations", json={})
    assert r.status_code == 200, r.text
    listed = (await harness.client.get("/v1/conversations")).json()
    assert [c["id"] for c in listed["data"]] == [r.json()["id"]]
