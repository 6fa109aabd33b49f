"""Which backend holds the stores: SQLite in the data dir by default, PostgreSQL when a database URL
is given. Every store of one server comes from one backend over one database, so that what must be
written together (a response and its conversation's items) is one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from parley.storage.background import BackgroundJobs
from parley.storage.base import ConversationStore, ResponseStore
from parley.storage.chain_cache import Deletes, MappedDeletes
from parley.storage.heartbeats import Heartbeats
from parley.storage.keys import KeyStore
from parley.storage.library import FileStore, VectorStoreStore
from parley.storage.locks import Locks
from parley.storage.postgres import (
    PgBackgroundJobs,
    PgConversationStore,
    PgDatabase,
    PgFileStore,
    PgKeyStore,
    PgLocks,
    PgPromptStore,
    PgResponseStore,
    PgVectorStoreStore,
)
from parley.storage.postgres.deletes import PgDeletes
from parley.storage.postgres.heartbeats import PgHeartbeats
from parley.storage.postgres.reasoning_key import PgReasoningKeyStore
from parley.storage.prompts import PromptStore
from parley.storage.reasoning_key import ReasoningKeyStore
from parley.storage.shared_counter import SharedCounter
from parley.storage.sqlite import (
    Database,
    SqliteConversationStore,
    SqliteFileStore,
    SqliteResponseStore,
    SqliteVectorStoreStore,
)
from parley.storage.sqlite.background import SqliteBackgroundJobs
from parley.storage.sqlite.keys import SqliteKeyStore
from parley.storage.sqlite.locks import SqliteLocks
from parley.storage.sqlite.prompts import SqlitePromptStore


@dataclass(frozen=True)
class Stores:
    responses: ResponseStore
    conversations: ConversationStore
    prompts: PromptStore
    keys: KeyStore
    locks: Locks
    files: FileStore
    vector_stores: VectorStoreStore
    background: BackgroundJobs
    shared: bool
    """Other servers may share the database (PostgreSQL): state kept in this process alone, such
    as the chain cache and the registry of running responses, must go through the database."""
    where: str
    """The database, as an operator would name it (a path, or a URL without its password)."""
    deletes: Deletes
    """The count of deleted responses every process's chain cache checks (``chain_cache.py``)."""
    start: Callable[[], Awaitable[list[str]]]
    """Connect and migrate, if not done yet; the names of the migrations this applied."""
    aclose: Callable[[], Awaitable[None]]
    reasoning_key: ReasoningKeyStore | None = None
    """The key replicas sharing the database seal reasoning with; ``None`` where no other server
    shares it (SQLite), and the data dir keeps the key (``sealing.py``)."""
    heartbeats: Heartbeats | None = None
    """How replicas on other machines are known to run (PostgreSQL); None: one machine."""
    postgres: PgDatabase | None = None
    """The PostgreSQL database, for what keeps tables of its own in it (vector stores' chunks)."""


def open_stores(database_url: str | None, data_dir: Path) -> Stores:
    """Nothing is awaited here (the app is composed before its event loop runs): SQLite (in
    ``data_dir``) opens and migrates at once, PostgreSQL on ``start`` or on first use."""
    return _sqlite_stores(data_dir) if database_url is None else _postgres_stores(database_url)


def _postgres_stores(database_url: str) -> Stores:
    pg = PgDatabase(database_url)
    return Stores(
        PgResponseStore(pg),
        PgConversationStore(pg),
        PgPromptStore(pg),
        PgKeyStore(pg),
        PgLocks(pg),
        PgFileStore(pg),
        PgVectorStoreStore(pg),
        PgBackgroundJobs(pg),
        shared=True,
        where=pg.where,
        deletes=PgDeletes(pg),
        start=pg.start,
        aclose=pg.aclose,
        reasoning_key=PgReasoningKeyStore(pg),
        heartbeats=PgHeartbeats(pg),
        postgres=pg,
    )


def _sqlite_stores(data_dir: Path) -> Stores:
    sqlite_path = data_dir / "parley.db"
    database = Database(sqlite_path)

    async def started() -> list[str]:
        return database.applied

    return Stores(
        SqliteResponseStore(database),
        SqliteConversationStore(database),
        SqlitePromptStore(database),
        SqliteKeyStore(database),
        SqliteLocks(database),
        SqliteFileStore(database),
        SqliteVectorStoreStore(database),
        SqliteBackgroundJobs(database),
        shared=False,
        where=str(sqlite_path),
        deletes=MappedDeletes(SharedCounter(data_dir / "responses.deletes")),
        start=started,
        aclose=database.aclose,
    )
