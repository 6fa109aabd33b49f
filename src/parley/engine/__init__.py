"""The agentic loop: typed events out, no HTTP and no SQL in here."""

from parley.engine.compact import compact_context
from parley.engine.conversation import ConversationLocks, in_conversation, started
from parley.engine.include import hidden_fields, public_events, public_response
from parley.engine.persist import persist
from parley.engine.prepare import EngineDeps, Turn, prepare_turn
from parley.engine.start import TurnRun, start_turn
from parley.engine.turn import drain, run_turn

__all__ = [
    "ConversationLocks",
    "EngineDeps",
    "Turn",
    "TurnRun",
    "compact_context",
    "drain",
    "hidden_fields",
    "in_conversation",
    "persist",
    "prepare_turn",
    "public_events",
    "public_response",
    "run_turn",
    "start_turn",
    "started",
]
