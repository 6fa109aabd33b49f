"""Append-only schema migrations for PostgreSQL, each applied once and recorded, as for SQLite.

The first one is the whole schema SQLite reached in twelve steps (``sqlite/migrations.py``), in
PostgreSQL's types: a fresh backend has no history to replay. Never edit a released migration:
add ``pNNN_...`` at the end of ``MIGRATIONS``. Replicas that start together take an advisory
lock, so each migration is applied by one of them and seen done by the others.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import asyncpg
from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "PoolConnectionProxy[Record]"
"""A connection as the pool lends it (the class is generic to the type checker only)."""

CLOCK = "extract(epoch FROM clock_timestamp())::double precision"
"""The database's clock, in seconds: what every lease is set and checked by, so replicas whose
own clocks disagree still agree on when a lease ran out."""

_MIGRATION_LOCK = 0x70A47E1  # pg_advisory_xact_lock's key for "migrating Parley's schema"

_P001_SCHEMA = """
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    previous_response_id TEXT,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    worker TEXT,
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX responses_owner_created ON responses (owner, created_at, seq);
CREATE INDEX responses_running ON responses (worker) WHERE worker IS NOT NULL;
CREATE TABLE response_items (
    response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('input', 'output')),
    item_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (response_id, position)
);
CREATE INDEX response_items_reasoning ON response_items (item_id)
    WHERE kind = 'output' AND left(item_id, 3) = 'rs_';

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    metadata JSON NOT NULL,
    deletions BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE conversation_items (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE INDEX conversation_items_item ON conversation_items (conversation_id, item_id);

CREATE TABLE prompts (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    default_version INTEGER NOT NULL
);
CREATE INDEX prompts_owner_created ON prompts (owner, created_at);
CREATE TABLE prompt_versions (
    prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (prompt_id, version)
);

CREATE TABLE files (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    filename TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    sha256 TEXT NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX files_owner_created ON files (owner, created_at, seq);
CREATE INDEX files_sha256 ON files (sha256);

CREATE TABLE vector_stores (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    metadata JSON NOT NULL,
    expires_after_days INTEGER,
    embedding_model TEXT NOT NULL,
    embedding_dimension INTEGER NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX vector_stores_owner_created ON vector_stores (owner, created_at, seq);
CREATE TABLE vector_store_file_batches (
    id TEXT PRIMARY KEY,
    vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    cancelled BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE vector_store_files (
    vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    file_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    attributes JSON NOT NULL,
    chunking_strategy JSON NOT NULL,
    usage_bytes BIGINT NOT NULL DEFAULT 0,
    batch_id TEXT,
    sha256 TEXT NOT NULL,
    worker TEXT,
    lease_until DOUBLE PRECISION,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (vector_store_id, file_id)
);
CREATE INDEX vector_store_files_file ON vector_store_files (file_id);
CREATE INDEX vector_store_files_batch ON vector_store_files (batch_id);
CREATE INDEX vector_store_files_status ON vector_store_files (status);

CREATE TABLE background_jobs (
    response_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    request BYTEA NOT NULL,
    stream BOOLEAN NOT NULL,
    state TEXT NOT NULL,
    worker TEXT,
    lease_until DOUBLE PRECISION,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    queued_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX background_jobs_state ON background_jobs (state, queued_at);
CREATE TABLE response_events (
    response_id TEXT NOT NULL,
    first_sequence INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (response_id, last_sequence)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    admin BOOLEAN NOT NULL,
    name TEXT NOT NULL,
    shown TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    digest TEXT NOT NULL UNIQUE,
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE heartbeats (process TEXT PRIMARY KEY, seen_at DOUBLE PRECISION NOT NULL);

-- PostgreSQL's alone: the key replicas seal reasoning with (SQLite's server keeps it in its data dir).
CREATE TABLE reasoning_key (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
"""


async def p001_schema(conn: Connection) -> None:
    """Every table SQLite has after ``m012_ingest_claims``. Metadata and attributes are JSON, not
    JSONB: kept as written (their keys in the caller's order, an escaped NUL character accepted,
    both of which JSONB would change or refuse) and still read into by SQL; documents only stored
    and read back whole are TEXT. ``seq``
    (insertion order) breaks ties of ``created_at``, in seconds, where SQLite's ``rowid`` does."""
    await conn.execute(_P001_SCHEMA)


_P002_CHUNKS = """
CREATE TABLE chunks (
    vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    file_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    attributes JSON NOT NULL,
    filterable JSONB NOT NULL,
    token_count INTEGER NOT NULL,
    dimension INTEGER NOT NULL,
    embedding vector NOT NULL,
    words tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (vector_store_id, file_id, position)
);
CREATE INDEX chunks_words ON chunks USING gin (words);
CREATE INDEX chunks_filterable ON chunks USING gin (filterable jsonb_path_ops);
ALTER TABLE chunks SET (toast_tuple_target = 128);
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE EXTERNAL;
ALTER TABLE chunks ALTER COLUMN words SET STORAGE MAIN;
"""


async def p002_chunks(conn: Connection) -> None:
    """Vector stores' chunks, searched where they are stored: pgvector for the vectors (one HNSW
    index per dimension, made when the first store of that dimension opens: ``ensure_hnsw``),
    full-text search for keywords, and the attributes twice: as written (JSON, returned in
    results) and as JSONB (``filterable``), which filters read and its GIN index serves.

    A row keeps inline only what a search reads of every candidate (the words, the filterable
    attributes); the embedding (1.5 KB at 384 dimensions, which the HNSW index holds anyway) and a
    long text go out of line, so a keyword search over 100k chunks reads a few MB of rows rather
    than the 200 MB that kept it 20x slower."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except asyncpg.PostgresError as exc:
        raise RuntimeError(
            f"PostgreSQL could not create the pgvector extension ({exc}). Parley keeps vector stores'"
            " chunks in it: install pgvector on the server and run 'CREATE EXTENSION vector' as a"
            " superuser, once per database."
        ) from exc
    if await conn.fetchval("SELECT to_regtype('vector')") is None:
        schema = await conn.fetchval(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
        )
        raise RuntimeError(
            f"pgvector is installed in the schema {schema}, which is not on this connection's"
            " search_path: add it there (the URL's ?search_path=...)."
        )
    await conn.execute(_P002_CHUNKS)


async def p003_conversations_by_owner(conn: Connection) -> None:
    """An owner's conversations in creation order (``GET /v1/conversations``): ``seq`` (insertion
    order, numbered for existing rows too) breaks ties within a second, as for responses."""
    await conn.execute("ALTER TABLE conversations ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY")
    await conn.execute("CREATE INDEX conversations_owner_created ON conversations (owner, created_at, seq)")


MIGRATIONS: list[Callable[[Connection], Awaitable[None]]] = [
    p001_schema,
    p002_chunks,
    p003_conversations_by_owner,
]


HNSW_MAX_DIMENSIONS = {"vector": 2000, "halfvec": 4000}
"""What pgvector's HNSW indexes take: beyond 2,000 dimensions the vectors are indexed at half
precision, beyond 4,000 not at all (searched exactly)."""


def vector_type(dimension: int) -> str | None:
    """The type a store of ``dimension`` is indexed and searched as; None: not indexed."""
    return next((kind for kind, most in HNSW_MAX_DIMENSIONS.items() if dimension <= most), None)


async def ensure_hnsw(conn: Connection, dimension: int) -> None:
    """The HNSW index (cosine) over the chunks of one dimension: an index covers one dimension
    only, so it is an expression index over the cast column, limited to those rows."""
    kind = vector_type(dimension)
    if kind is None:
        return
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS chunks_hnsw_{dimension} ON chunks USING hnsw"
            f" ((embedding::{kind}({dimension})) {kind}_cosine_ops) WHERE dimension = {dimension}"
        )


async def migrate(conn: Connection) -> list[str]:
    """Apply what is missing in one transaction, under an advisory lock taken before anything else
    (even ``CREATE TABLE IF NOT EXISTS`` races between two sessions): a replica that waited for
    the lock finds every migration applied. Returns the names of the migrations applied."""
    done: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        )
        applied = {row["name"] for row in await conn.fetch("SELECT name FROM _migrations")}
        for migration in MIGRATIONS:
            if migration.__name__ not in applied:
                await migration(conn)
                await conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES ($1, $2)",
                    migration.__name__,
                    int(time.time()),
                )
                done.append(migration.__name__)
    return done
