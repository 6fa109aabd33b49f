"""``POST /v1/responses/compact``: a context compacted on request, returned and never stored.

The request is prepared exactly like a turn (its ``previous_response_id``
chain, its input items checked and opened), then compacted once. The answer
holds the context's user messages, verbatim, then the compaction item, as
OpenAI's does; a client continues by sending that output (plus its next
message) as input, and the compaction item there stands for all before it.
"""

from __future__ import annotations

import time
from typing import Any

from parley.engine.compaction import compact, effective_start, is_user_message
from parley.engine.prepare import EngineDeps, prepare_turn
from parley.engine.usage import Usage
from parley.ids import new_id
from parley.wire.compact import compacted_response
from parley.wire.request import CreateResponseRequest


async def compact_context(request: CreateResponseRequest, deps: EngineDeps, owner: str) -> dict[str, Any]:
    turn = await prepare_turn(request, deps, owner)
    usage = Usage()
    item, _ = await compact(turn, new_id("cmp"), usage)
    visible = turn.context[effective_start(turn.context) :]
    users = [message for message in visible if is_user_message(message)]
    return compacted_response(new_id("resp"), int(time.time()), [*users, item], usage.as_wire())
