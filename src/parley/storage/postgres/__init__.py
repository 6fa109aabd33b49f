"""The PostgreSQL backend: the repository interfaces of ``storage/base.py`` over asyncpg."""

from parley.storage.postgres.conversations import PgConversationStore
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.responses import PgResponseStore

__all__ = ["PgConversationStore", "PgDatabase", "PgResponseStore"]
