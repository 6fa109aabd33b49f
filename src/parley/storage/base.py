"""Repository interfaces: what the engine and the API need from storage, and no more.

Each backend (SQLite now, PostgreSQL later) implements these Protocols and
passes the same test suite. Every stored object carries its ``owner`` (a
principal id) so isolation can be enforced without reshaping the schema.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Item = dict[str, Any]
Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class ResponseFilter:
    """Which of an owner's responses a list shows (the UI's log): all of them by default."""

    model: str | None = None
    status: str | None = None
    created_after: int | None = None
    """Unix seconds, inclusive, as are ``created_before``'s."""
    created_before: int | None = None

    def conditions(self, model: str) -> list[tuple[str, object]]:
        """``(comparison, value)`` for each field set, the value left to the comparison's right;
        ``model`` is the backend's expression for a response's model (read from its document)."""
        pairs = [
            (f"{model} =", self.model),
            ("status =", self.status),
            ("created_at >=", self.created_after),
            ("created_at <=", self.created_before),
        ]
        return [(comparison, value) for comparison, value in pairs if value is not None]


EVERY_RESPONSE = ResponseFilter()


@dataclass(frozen=True)
class Page:
    """One page of a cursor-paginated list, in the order asked for."""

    data: list[dict[str, Any]]
    has_more: bool


class ResponseStore(Protocol):
    def record(self, response: dict[str, Any], owner: str) -> None:
        """Queue a write of the response row alone, without waiting (safe where awaiting is not)."""

    async def begin(self, response: dict[str, Any], owner: str, worker: str) -> None:
        """Write the row of a response that starts running in the process ``worker``, and wait for
        it: with several worker processes, the others read it at once. Until the response's end is
        written (``save`` or ``record``), it is ``worker``'s, and ``history`` does not continue it."""

    async def running(self) -> list[tuple[str, str, str]]:
        """(id, owner, worker) of every response still marked running: a process settles those of
        workers that died. Unscoped by owner, as only the server itself asks."""

    async def save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        owner: str,
        conversation_id: str | None = None,
    ) -> None:
        """Write the finished response and this turn's input items in one transaction; with
        ``conversation_id``, append the input and output items to it in the same transaction
        (unless the response failed: a failed turn leaves the conversation as it was)."""

    async def get(self, response_id: str, owner: str) -> dict[str, Any] | None: ...

    async def history(self, response_id: str, owner: str) -> list[Item] | None:
        """Input and output items of the whole ``previous_response_id`` chain, oldest first.

        None when the response does not exist for this owner.
        """

    async def input_items(
        self, response_id: str, owner: str, *, after: str | None, before: str | None, limit: int, order: Order
    ) -> Page | None: ...

    async def list(
        self,
        owner: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        only: ResponseFilter = EVERY_RESPONSE,
    ) -> Page: ...

    async def items(self, item_ids: Collection[str], owner: str) -> dict[str, Item]:
        """This owner's stored reasoning items by id, from whichever responses hold them: an
        ``item_reference`` may name an item without naming its chain, as OpenAI allows. Only
        reasoning is looked up so (clients send other items back whole; ``m010_item_lookup``)."""
        ...

    async def delete(self, response_id: str, owner: str) -> bool: ...

    async def aclose(self) -> None: ...


class ConversationStore(Protocol):
    """Conversations and their items, scoped by owner; items are kept in wire shape, in order.

    A response on a conversation reads ``all_items`` as its context and appends its input and
    output in the same transaction as the response row (``storage/sqlite/conversations.append_items``).
    """

    async def create(self, conversation: dict[str, Any], items: list[Item], owner: str) -> None:
        """Write the conversation and its initial items in one transaction."""

    async def get(self, conversation_id: str, owner: str) -> dict[str, Any] | None: ...

    async def update(
        self, conversation_id: str, owner: str, metadata: dict[str, str]
    ) -> dict[str, Any] | None:
        """Replace the metadata; None when the conversation is missing."""

    async def delete(self, conversation_id: str, owner: str) -> bool:
        """Remove the conversation and every item in it."""

    async def add_items(self, conversation_id: str, owner: str, items: list[Item]) -> list[Item] | None:
        """Append in order, in one transaction; None (nothing written) when the conversation is missing."""

    async def items(
        self, conversation_id: str, owner: str, *, after: str | None, limit: int, order: Order
    ) -> Page | None: ...

    async def all_items(self, conversation_id: str, owner: str) -> list[Item] | None:
        """Every item, oldest first (the context of a response on it); None when missing."""

    async def get_item(self, conversation_id: str, item_id: str, owner: str) -> Item | None: ...

    async def delete_item(self, conversation_id: str, item_id: str, owner: str) -> bool: ...

    async def list(self, owner: str, *, after: str | None, limit: int, order: Order) -> Page:
        """This owner's conversations by creation (insertion order within a second); an ``after``
        naming none of them gives an empty page, as ``ResponseStore.list`` does. Last in the class
        (here and in the stores): above them, its name would hide the builtin from annotations."""
