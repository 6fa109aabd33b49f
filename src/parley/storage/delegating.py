"""A ResponseStore in front of another: every call passed on, so a wrapper (a cache, one socket's
view) overrides only what it changes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from parley.storage.base import EVERY_RESPONSE, Item, Order, Page, ResponseFilter, ResponseStore


class DelegatingResponseStore:
    def __init__(self, inner: ResponseStore) -> None:
        self._inner = inner

    def record(self, response: dict[str, Any], owner: str) -> None:
        self._inner.record(response, owner)

    async def begin(self, response: dict[str, Any], owner: str, worker: str) -> None:
        await self._inner.begin(response, owner, worker)

    async def running(self) -> list[tuple[str, str, str]]:
        return await self._inner.running()

    async def save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        owner: str,
        conversation_id: str | None = None,
    ) -> None:
        await self._inner.save(response, input_items, owner, conversation_id)

    async def get(self, response_id: str, owner: str) -> dict[str, Any] | None:
        return await self._inner.get(response_id, owner)

    async def history(self, response_id: str, owner: str) -> list[Item] | None:
        return await self._inner.history(response_id, owner)

    async def input_items(
        self, response_id: str, owner: str, *, after: str | None, before: str | None, limit: int, order: Order
    ) -> Page | None:
        return await self._inner.input_items(
            response_id, owner, after=after, before=before, limit=limit, order=order
        )

    async def list(
        self,
        owner: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        only: ResponseFilter = EVERY_RESPONSE,
    ) -> Page:
        return await self._inner.list(owner, after=after, limit=limit, order=order, only=only)

    async def items(self, item_ids: Collection[str], owner: str) -> dict[str, Item]:
        return await self._inner.items(item_ids, owner)

    async def delete(self, response_id: str, owner: str) -> bool:
        return await self._inner.delete(response_id, owner)

    async def aclose(self) -> None:
        await self._inner.aclose()
