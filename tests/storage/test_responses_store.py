"""The response store on each backend (SQLite and PostgreSQL), and the chain cache in front of it."""

from __future__ import annotations

from typing import Any

from parley.storage.chain_cache import ChainCache
from parley.storage.sqlite import Database, SqliteResponseStore
from tests.storage.conftest import Backend


def response(
    rid: str, previous: str | None, output: list[dict[str, Any]], created: int = 1, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": rid,
        "previous_response_id": previous,
        "created_at": created,
        "status": status,
        "output": output,
    }


def item(iid: str, kind: str = "message") -> dict[str, Any]:
    return {"id": iid, "type": kind, "role": "user", "content": [{"type": "input_text", "text": iid}]}


async def save_chain(store: Any, length: int) -> None:
    previous = None
    for n in range(length):
        await store.save(response(f"r{n}", previous, [item(f"o{n}")]), [item(f"i{n}")], "alice")
        previous = f"r{n}"


def ids(items: list[dict[str, Any]] | None) -> list[str]:
    assert items is not None
    return [i["id"] for i in items]


async def test_history_reads_the_whole_chain_in_order(backend: Backend) -> None:
    store = backend.responses
    await save_chain(store, 4)
    assert ids(await store.history("r3", "alice")) == ["i0", "o0", "i1", "o1", "i2", "o2", "i3", "o3"]
    assert await store.history("r3", "bob") is None
    assert await store.history("nope", "alice") is None


async def test_owner_isolation_and_delete(backend: Backend) -> None:
    store = backend.responses
    await save_chain(store, 1)
    assert await store.get("r0", "bob") is None
    assert not await store.delete("r0", "bob")
    assert await store.delete("r0", "alice")
    assert await store.get("r0", "alice") is None
    assert await store.input_items("r0", "alice", after=None, before=None, limit=5, order="asc") is None
    assert await backend.count("response_items") == 0


async def test_saving_again_replaces_the_items(backend: Backend) -> None:
    store = backend.responses
    await store.save(response("r0", None, [], status="in_progress"), [item("i0")], "alice")
    await store.save(response("r0", None, [item("o0"), item("o1")]), [item("i0")], "alice")
    assert ids(await store.history("r0", "alice")) == ["i0", "o0", "o1"]
    stored = await store.get("r0", "alice")
    assert stored is not None
    assert stored["status"] == "completed"


async def test_list_pages_both_ways_with_ties_in_insertion_order(backend: Backend) -> None:
    store = backend.responses
    for n, created in enumerate([5, 7, 7, 7, 9]):
        await store.save(response(f"r{n}", None, [], created=created), [], "alice")
    await store.save(response("other", None, [], created=8), [], "bob")
    walked: dict[str, list[str]] = {}
    for order in ("asc", "desc"):
        after, seen = None, []
        while True:
            page = await store.list("alice", after=after, limit=2, order=order)
            seen += [r["id"] for r in page.data]
            if not page.has_more:
                break
            after = page.data[-1]["id"]
        walked[order] = seen
    assert walked["asc"] == ["r0", "r1", "r2", "r3", "r4"]
    assert walked["desc"] == ["r4", "r3", "r2", "r1", "r0"]


async def test_input_items_page_between_cursors(backend: Backend) -> None:
    store = backend.responses
    await store.save(response("r0", None, [item("out")]), [item(x) for x in "abcde"], "alice")
    page = await store.input_items("r0", "alice", after="a", before="e", limit=2, order="asc")
    assert page is not None
    assert (ids(page.data), page.has_more) == (["b", "c"], True)
    page = await store.input_items("r0", "alice", after="d", before=None, limit=10, order="desc")
    assert page is not None
    assert (ids(page.data), page.has_more) == (["c", "b", "a"], False)
    assert await store.input_items("r0", "bob", after=None, before=None, limit=10, order="asc") is None


async def test_reasoning_items_are_found_by_id_for_their_owner_only(backend: Backend) -> None:
    store = backend.responses
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "x"}
    await store.save(response("r0", None, [reasoning, item("msg_1")]), [item("rs_input")], "alice")
    assert await store.items(["rs_1", "msg_1", "rs_input", "rs_none"], "alice") == {"rs_1": reasoning}
    assert await store.items(["rs_1"], "bob") == {}
    assert await store.items([], "alice") == {}


async def test_a_recorded_response_is_read_back_at_once(backend: Backend) -> None:
    """``record`` does not wait, yet the next read sees it (a stream whose client went away)."""
    backend.responses.record(response("r0", None, [], status="failed"), "alice")
    stored = await backend.responses.get("r0", "alice")
    assert stored is not None
    assert stored["status"] == "failed"


async def test_a_running_response_is_not_continued_or_deleted_until_it_ends(backend: Backend) -> None:
    store = backend.responses
    await store.begin(response("r0", None, [], status="in_progress"), "alice", "host:1:1")
    assert await store.running() == [("r0", "alice", "host:1:1")]
    assert await store.history("r0", "alice") is None
    assert not await store.delete("r0", "alice")
    stored = await store.get("r0", "alice")
    assert stored is not None
    assert stored["status"] == "in_progress"
    await store.save(response("r0", None, [item("o0")]), [item("i0")], "alice")
    assert await store.running() == []
    assert ids(await store.history("r0", "alice")) == ["i0", "o0"]
    assert await store.delete("r0", "alice")


async def test_a_response_on_a_conversation_appends_its_items_unless_it_failed(backend: Backend) -> None:
    conversations, store = backend.conversations, backend.responses
    await conversations.create({"id": "c1", "created_at": 1, "metadata": {}}, [item("a")], "alice")
    await store.save(response("r0", None, [item("o0")]), [item("i0")], "alice", "c1")
    await store.save(response("r1", None, [item("o1")], status="failed"), [item("i1")], "alice", "c1")
    assert ids(await conversations.all_items("c1", "alice")) == ["a", "i0", "o0"]


async def test_chain_cache_answers_without_the_store_and_falls_back(backend: Backend) -> None:
    cache = ChainCache(backend.responses, capacity=2)
    await save_chain(cache, 3)
    assert ids(await cache.history("r2", "alice")) == ["i0", "o0", "i1", "o1", "i2", "o2"]
    cold = ChainCache(backend.responses)
    assert await cold.history("r2", "alice") == await cache.history("r2", "alice")
    assert await cache.history("r0", "alice") is not None  # evicted (capacity 2): read from the store
    assert await cache.history("r2", "bob") is None
    await cache.delete("r1", "alice")
    assert ids(await cache.history("r2", "alice")) == ["i2", "o2"]


async def test_items_record_their_owner(db: Database) -> None:
    store = SqliteResponseStore(db)
    await save_chain(store, 1)
    owners = await db.run(lambda c: c.execute("SELECT DISTINCT owner FROM response_items").fetchall())
    assert owners == [("alice",)]
