"""A hosted call's one long wait (a search, an MCP call), bounded by the call's deadline.

A call that overruns ``tool_timeout`` ends as that tool's own failure (a ``file_search_call``,
``web_search_call`` or ``mcp_call`` with ``status: failed`` and its error), which the model reads
and answers from, as it does any other tool failure; the response goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def overrun_message(name: str) -> str:
    return f"The {name} call did not finish within this server's time limit for a tool call."


async def within(
    deadline: float | None, work: Awaitable[T], failure: Callable[[str], Exception], name: str
) -> T:
    """``work``'s result, or past ``deadline`` ``failure(message)`` raised with ``work`` cancelled."""
    scope = asyncio.timeout_at(deadline)
    try:
        async with scope:
            return await work
    except TimeoutError:
        if not scope.expired():
            raise
        raise failure(overrun_message(name)) from None
