"""Append-only schema migrations, each applied once and recorded (the simonw/llm habit).

Never edit a released migration: add ``mNNN_...`` at the end of ``MIGRATIONS``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """``executescript`` would COMMIT the migration's transaction early; run statements one by one."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def m001_responses(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE responses (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            previous_response_id TEXT,
            created_at INTEGER NOT NULL,
            status TEXT NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX responses_owner_created ON responses (owner, created_at);
        CREATE TABLE response_items (
            response_id TEXT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('input', 'output')),
            item_id TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (response_id, position)
        ) WITHOUT ROWID;
        """,
    )


def m002_item_owner(conn: sqlite3.Connection) -> None:
    """Items carry their owner too, so every stored row can be checked on its own."""
    conn.execute("ALTER TABLE response_items ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous'")
    conn.execute(
        "UPDATE response_items"
        " SET owner = (SELECT owner FROM responses WHERE id = response_items.response_id)"
    )


def m003_files(conn: sqlite3.Connection) -> None:
    """Uploaded files: metadata only; the bytes live under the data dir, named by sha256."""
    _script(
        conn,
        """
        CREATE TABLE files (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            filename TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            purpose TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            sha256 TEXT NOT NULL
        );
        CREATE INDEX files_owner_created ON files (owner, created_at);
        CREATE INDEX files_sha256 ON files (sha256);
        """,
    )


_M004_SQL = """
CREATE TABLE vector_stores (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    expires_after_days INTEGER,
    embedding_model TEXT NOT NULL,
    embedding_dimension INTEGER NOT NULL
);
CREATE INDEX vector_stores_owner_created ON vector_stores (owner, created_at);
CREATE TABLE vector_store_file_batches (
    id TEXT PRIMARY KEY,
    vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE vector_store_files (
    vector_store_id TEXT NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    file_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    attributes TEXT NOT NULL,
    chunking_strategy TEXT NOT NULL,
    usage_bytes INTEGER NOT NULL DEFAULT 0,
    batch_id TEXT,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (vector_store_id, file_id)
);
CREATE INDEX vector_store_files_file ON vector_store_files (file_id);
CREATE INDEX vector_store_files_batch ON vector_store_files (batch_id);
CREATE INDEX vector_store_files_status ON vector_store_files (status);
"""


def m004_vector_stores(conn: sqlite3.Connection) -> None:
    """Vector stores, their files and batches; the chunks live in each store's own index."""
    _script(conn, _M004_SQL)


def m005_conversations(conn: sqlite3.Connection) -> None:
    """Conversations and their items in order; (conversation_id, item_id) finds one item."""
    _script(
        conn,
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            metadata TEXT NOT NULL
        );
        CREATE TABLE conversation_items (
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            item_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (conversation_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX conversation_items_item ON conversation_items (conversation_id, item_id);
        """,
    )


def m006_prompts(conn: sqlite3.Connection) -> None:
    """Stored prompts: one row per prompt (its default version), one per version of it."""
    _script(
        conn,
        """
        CREATE TABLE prompts (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            default_version INTEGER NOT NULL
        );
        CREATE INDEX prompts_owner_created ON prompts (owner, created_at);
        CREATE TABLE prompt_versions (
            prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            owner TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (prompt_id, version)
        ) WITHOUT ROWID;
        """,
    )


def m007_conversation_deletions(conn: sqlite3.Connection) -> None:
    """How many items were ever deleted from each conversation: a reader that kept its items can
    tell, without counting them, whether it may just read the rows appended since."""
    conn.execute("ALTER TABLE conversations ADD COLUMN deletions INTEGER NOT NULL DEFAULT 0")


def m008_background(conn: sqlite3.Connection) -> None:
    """Background responses: jobs claimed under a lease, and the events a stream replays (a row
    holds a run of consecutive events, one JSON per line: a batch is one row, not one per token)."""
    _script(
        conn,
        """
        CREATE TABLE background_jobs (
            response_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            request BLOB NOT NULL,
            stream INTEGER NOT NULL,
            state TEXT NOT NULL,
            worker TEXT,
            lease_until REAL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            queued_at REAL NOT NULL
        );
        CREATE INDEX background_jobs_state ON background_jobs (state, queued_at);
        CREATE TABLE response_events (
            response_id TEXT NOT NULL,
            first_sequence INTEGER NOT NULL,
            last_sequence INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (response_id, last_sequence)
        ) WITHOUT ROWID;
        """,
    )


def m009_api_keys(conn: sqlite3.Connection) -> None:
    """API keys, by the digest a request's bearer token is looked up with (the key itself is never kept)."""
    _script(
        conn,
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            admin INTEGER NOT NULL,
            name TEXT NOT NULL,
            shown TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER,
            digest TEXT NOT NULL UNIQUE
        );
        """,
    )


def m010_item_lookup(conn: sqlite3.Connection) -> None:
    """Reasoning the model wrote, by id, for an ``item_reference`` outside any chain. Only reasoning:
    it is what a client cannot send back whole (messages and calls it can), and an index entry per
    item would cost every response about 5% of Parley's time (measured), for a rare lookup."""
    index = "CREATE INDEX response_items_reasoning ON response_items (item_id)"
    conn.execute(f"{index} WHERE {REASONING_OUTPUT}")


def m011_workers(conn: sqlite3.Connection) -> None:
    """What worker processes sharing the database share: the process running a response, while it
    runs (a response in progress is a row every worker reads; a dead process's rows are settled),
    and locks held across processes (a conversation's, while a response on it runs)."""
    conn.execute("ALTER TABLE responses ADD COLUMN worker TEXT")
    conn.execute("CREATE INDEX responses_running ON responses (worker) WHERE worker IS NOT NULL")
    conn.execute("CREATE TABLE locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL) WITHOUT ROWID")


def m012_ingest_claims(conn: sqlite3.Connection) -> None:
    """Which worker process ingests a file ``in_progress``, until when (a lease its heartbeat
    renews): any worker may accept an upload, exactly one ingests it, and the files of a worker
    that died (lease run out) are taken over."""
    conn.execute("ALTER TABLE vector_store_files ADD COLUMN worker TEXT")
    conn.execute("ALTER TABLE vector_store_files ADD COLUMN lease_until REAL")
    conn.execute(
        "CREATE INDEX vector_store_files_claims ON vector_store_files (worker) WHERE status = 'in_progress'"
    )


def m013_conversations_by_owner(conn: sqlite3.Connection) -> None:
    """An owner's conversations in creation order (``GET /v1/conversations``); the index holds
    the rowid that breaks ties within a second, so a page is one range scan."""
    conn.execute("CREATE INDEX conversations_owner_created ON conversations (owner, created_at)")


REASONING_OUTPUT = "kind = 'output' AND substr(item_id, 1, 3) = 'rs_'"
"""The rows ``response_items_reasoning`` indexes; a query repeats it to use that index."""


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_responses,
    m002_item_owner,
    m003_files,
    m004_vector_stores,
    m005_conversations,
    m006_prompts,
    m007_conversation_deletions,
    m008_background,
    m009_api_keys,
    m010_item_lookup,
    m011_workers,
    m012_ingest_claims,
    m013_conversations_by_owner,
]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply what is missing; the names of the migrations applied."""
    done: list[str] = []
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    for migration in MIGRATIONS:
        if migration.__name__ in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Worker processes starting together race here: one applies it, the others see it done.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (migration.__name__,)).fetchone():
                conn.execute("ROLLBACK")
                continue
            migration(conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (migration.__name__, int(time.time())),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        done.append(migration.__name__)
    return done
