"""The PostgreSQL backend: the repository interfaces of ``storage/base.py`` over asyncpg."""

from parley.storage.postgres.background import PgBackgroundJobs
from parley.storage.postgres.conversations import PgConversationStore
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.files import PgFileStore
from parley.storage.postgres.keys import PgKeyStore
from parley.storage.postgres.locks import PgLocks
from parley.storage.postgres.prompts import PgPromptStore
from parley.storage.postgres.responses import PgResponseStore
from parley.storage.postgres.vector_stores import PgVectorStoreStore

__all__ = [
    "PgBackgroundJobs",
    "PgConversationStore",
    "PgDatabase",
    "PgFileStore",
    "PgKeyStore",
    "PgLocks",
    "PgPromptStore",
    "PgResponseStore",
    "PgVectorStoreStore",
]
