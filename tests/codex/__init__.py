"""The OpenAI Codex CLI (``@openai/codex``, pinned) against Parley, and the requests it was seen to send."""
