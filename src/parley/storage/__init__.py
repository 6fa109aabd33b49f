"""Persistence behind small repository interfaces (SQLite embedded by default)."""

from parley.storage.base import Page, ResponseStore

__all__ = ["Page", "ResponseStore"]
