"""The embedded SQLite backend: one file under the data dir, WAL, one writer thread."""

from parley.storage.sqlite.conversations import SqliteConversationStore
from parley.storage.sqlite.database import Database
from parley.storage.sqlite.files import SqliteFileStore
from parley.storage.sqlite.responses import SqliteResponseStore
from parley.storage.sqlite.vector_stores import SqliteVectorStoreStore

__all__ = [
    "Database",
    "SqliteConversationStore",
    "SqliteFileStore",
    "SqliteResponseStore",
    "SqliteVectorStoreStore",
]
