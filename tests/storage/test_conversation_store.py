"""The conversation store on each backend: order, owners, pagination; and on each, ``append_items``
inside a caller's transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from parley.storage.base import ConversationStore, Item
from parley.storage.sqlite import Database, SqliteConversationStore
from parley.storage.sqlite import conversations as conversations_sql
from parley.storage.sqlite.conversations import append_items
from parley.storage.sqlite.database import transaction
from tests.storage.conftest import Backend


def item(iid: str) -> Item:
    return {"id": iid, "type": "message", "role": "user", "content": [{"type": "input_text", "text": iid}]}


def conversation(cid: str, **metadata: str) -> dict[str, Any]:
    return {"id": cid, "object": "conversation", "created_at": 7, "metadata": metadata}


@pytest.fixture
async def store(backend: Backend) -> ConversationStore:
    await backend.conversations.create(conversation("c1", topic="x"), [item("a"), item("b")], "alice")
    return backend.conversations


@pytest.fixture
async def sqlite_store(db: Database) -> SqliteConversationStore:
    s = SqliteConversationStore(db)
    await s.create(conversation("c1", topic="x"), [item("a"), item("b")], "alice")
    return s


def ids(items: list[Item] | None) -> list[str]:
    assert items is not None
    return [i["id"] for i in items]


async def test_implements_the_protocol_and_round_trips(store: ConversationStore) -> None:
    typed: ConversationStore = store
    assert await typed.get("c1", "alice") == conversation("c1", topic="x")
    assert await typed.update("c1", "alice", {"k": "v"}) == conversation("c1", k="v")
    assert ids(await typed.add_items("c1", "alice", [item("c"), item("d")])) == ["c", "d"]
    assert ids(await typed.all_items("c1", "alice")) == ["a", "b", "c", "d"]
    assert await typed.get_item("c1", "c", "alice") == item("c")
    assert await typed.delete_item("c1", "c", "alice")
    assert not await typed.delete_item("c1", "c", "alice")
    assert await typed.get_item("c1", "c", "alice") is None
    assert ids(await typed.all_items("c1", "alice")) == ["a", "b", "d"]


async def test_another_owner_sees_and_changes_nothing(store: ConversationStore) -> None:
    assert await store.get("c1", "bob") is None
    assert await store.update("c1", "bob", {"k": "v"}) is None
    assert await store.add_items("c1", "bob", [item("z")]) is None
    assert await store.items("c1", "bob", after=None, limit=10, order="asc") is None
    assert await store.all_items("c1", "bob") is None
    assert await store.get_item("c1", "a", "bob") is None
    assert not await store.delete_item("c1", "a", "bob")
    assert not await store.delete("c1", "bob")
    assert await store.get("c1", "alice") == conversation("c1", topic="x")
    assert ids(await store.all_items("c1", "alice")) == ["a", "b"]


async def test_missing_and_empty_conversations_differ(store: ConversationStore) -> None:
    await store.create(conversation("empty"), [], "alice")
    assert await store.all_items("empty", "alice") == []
    assert await store.all_items("nope", "alice") is None
    page = await store.items("empty", "alice", after=None, limit=5, order="desc")
    assert page is not None
    assert (page.data, page.has_more) == ([], False)


async def test_delete_takes_the_items_with_it(store: ConversationStore, backend: Backend) -> None:
    assert await store.delete("c1", "alice")
    assert await store.get("c1", "alice") is None
    assert await store.all_items("c1", "alice") is None
    assert await backend.count("conversation_items") == 0
    assert await store.add_items("c1", "alice", [item("late")]) is None


async def test_append_items_is_part_of_the_callers_transaction(
    sqlite_store: SqliteConversationStore, db: Database
) -> None:
    store = sqlite_store
    assert not await db.run(lambda conn: append_items(conn, "c1", "bob", [item("z")]))

    def append_then_fail(conn: sqlite3.Connection) -> None:
        assert append_items(conn, "c1", "alice", [item("x"), item("y")])
        raise RuntimeError("the response write failed")

    with pytest.raises(RuntimeError):
        await db.run(lambda conn: transaction(conn, append_then_fail))
    assert ids(await store.all_items("c1", "alice")) == ["a", "b"]
    assert await db.run(lambda conn: transaction(conn, lambda c: append_items(c, "c1", "alice", [item("x")])))
    assert ids(await store.all_items("c1", "alice")) == ["a", "b", "x"]


async def test_append_items_returns_false_for_a_deleted_conversation(
    sqlite_store: SqliteConversationStore, db: Database
) -> None:
    store = sqlite_store
    await store.delete("c1", "alice")
    written = await db.run(
        lambda conn: transaction(conn, lambda c: append_items(c, "c1", "alice", [item("x")]))
    )
    assert written is False
    rows = await db.run(lambda conn: conn.execute("SELECT COUNT(*) FROM conversation_items").fetchone())
    assert rows == (0,)


async def test_add_items_is_one_transaction_one_probe_one_executemany(
    sqlite_store: SqliteConversationStore, db: Database
) -> None:
    store = sqlite_store
    statements: list[str] = []
    await db.run(lambda conn: conn.set_trace_callback(statements.append))
    try:
        await store.add_items("c1", "alice", [item(f"n{n}") for n in range(5)])
    finally:
        await db.run(lambda conn: conn.set_trace_callback(None))
    kinds = [s.split()[0].upper() for s in statements]
    assert (kinds.count("BEGIN"), kinds.count("COMMIT")) == (1, 1)
    assert kinds.count("SELECT") == 1  # the position probe; no per-item reads
    assert ids(await store.all_items("c1", "alice")) == ["a", "b", *[f"n{n}" for n in range(5)]]


async def test_positions_keep_order_after_deleting_the_last_item(store: ConversationStore) -> None:
    await store.delete_item("c1", "b", "alice")
    await store.add_items("c1", "alice", [item("c")])
    await store.delete_item("c1", "a", "alice")
    await store.add_items("c1", "alice", [item("d")])
    assert ids(await store.all_items("c1", "alice")) == ["c", "d"]


async def test_pages_both_ways(store: ConversationStore) -> None:
    await store.add_items("c1", "alice", [item(x) for x in "cdefg"])  # a..g
    walked: dict[str, list[str]] = {}
    for order in ("asc", "desc"):
        after, seen = None, []
        while True:
            page = await store.items("c1", "alice", after=after, limit=3, order=order)
            assert page is not None
            seen += [i["id"] for i in page.data]
            if not page.has_more:
                break
            after = page.data[-1]["id"]
        walked[order] = seen
    assert walked["asc"] == list("abcdefg")
    assert walked["desc"] == list("gfedcba")
    page = await store.items("c1", "alice", after="unknown", limit=3, order="asc")
    assert page is not None
    assert page.data == []


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        (conversations_sql._ITEMS_AFTER, (-1, "c1", "alice")),
        (conversations_sql._NEXT_POSITION, ("c1", "c1", "alice")),
        (conversations_sql._POSITION_OF, ("c1", "a", "alice")),
        (
            "SELECT data FROM conversation_items WHERE conversation_id = ? AND item_id = ? AND owner = ?"
            " ORDER BY position DESC LIMIT 1",
            ("c1", "a", "alice"),
        ),
    ],
)
async def test_reads_use_an_index_not_a_scan(
    sqlite_store: SqliteConversationStore, db: Database, sql: str, params: tuple[str, ...]
) -> None:
    plan = await db.run(lambda conn: conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
    details = " ".join(str(row[-1]) for row in plan)
    assert "SEARCH" in details, details
    assert "SCAN" not in details, details
    assert "TEMP B-TREE" not in details, details


async def test_all_items_reads_only_what_was_appended_and_sees_other_writers(
    store: ConversationStore, backend: Backend
) -> None:
    other = backend.another_conversation_store()
    await store.create(conversation("c9"), [item("a"), item("b")], "alice")
    assert ids(await store.all_items("c9", "alice")) == ["a", "b"]
    await other.add_items("c9", "alice", [item("c")])
    await other.add_items("c9", "alice", [item("d")])
    assert ids(await store.all_items("c9", "alice")) == ["a", "b", "c", "d"]
    assert await other.delete_item("c9", "b", "alice")
    await other.add_items("c9", "alice", [item("e")])  # as many items as before: still noticed
    assert ids(await store.all_items("c9", "alice")) == ["a", "c", "d", "e"]
    kept = await store.all_items("c9", "alice")
    assert kept is not None
    kept.append(item("x"))  # a caller's list is its own
    assert ids(await store.all_items("c9", "alice")) == ["a", "c", "d", "e"]
    assert await store.all_items("c9", "bob") is None
    assert await other.delete("c9", "alice")
    assert await store.all_items("c9", "alice") is None
