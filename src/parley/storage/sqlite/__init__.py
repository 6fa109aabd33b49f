"""The embedded SQLite backend: one file under the data dir, WAL, one writer thread."""

from parley.storage.sqlite.database import Database
from parley.storage.sqlite.responses import SqliteResponseStore

__all__ = ["Database", "SqliteResponseStore"]
