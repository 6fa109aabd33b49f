"""Parley: a self-hosted OpenAI Responses API server over any OpenAI-compatible provider."""

__version__ = "0.1.0"
