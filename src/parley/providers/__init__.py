"""Inference providers: OpenAI-compatible chat-completions servers behind one interface."""

from parley.providers.base import ChatProvider, ModelRouter

__all__ = ["ChatProvider", "ModelRouter"]
