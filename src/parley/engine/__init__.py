"""The agentic loop: typed events out, no HTTP and no SQL in here."""

from parley.engine.persist import persist
from parley.engine.prepare import EngineDeps, Turn, prepare_turn
from parley.engine.turn import drain, run_turn

__all__ = ["EngineDeps", "Turn", "drain", "persist", "prepare_turn", "run_turn"]
