"""The SQLite half of the embedded index: chunk rows, their FTS5 keyword index and the label map.

SQLite is the source of truth for which chunks exist. Each row carries the integer ``label`` of
its vector in the vector file, and ``meta.generation`` says which vector file that is, so a
compaction that renumbers labels commits atomically with the switch to the new file. The FTS5
table uses the chunk's ``rowid`` (never renumbered), not its label, so compaction does not have
to rebuild the keyword index.

Callers hold the index's readers-writer lock: writes are exclusive, reads may overlap, and each
reading thread gets its own connection (WAL lets them read while nothing writes).

Several processes may share the table (see ``embedded_index``): every write transaction bumps
``meta.changes`` and returns its new value, so another process can tell with one primary-key read
whether its in-memory view (vectors, graph, filter cache) is behind, and ``snapshot`` reads what
it needs to catch up in one consistent read transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from parley.retrieval.filters import Filter, to_sql
from parley.retrieval.index import Chunk
from parley.storage.sqlite.database import transaction

T = TypeVar("T")
Labels = npt.NDArray[np.int64]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    file_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    attributes TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    label INTEGER NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks (file_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'
);
"""
COLUMNS = "id, file_id, position, text, attributes, token_count"
QUALIFIED = ", ".join(f"chunks.{column}" for column in COLUMNS.split(", "))  # ``text`` is also FTS's
MAX_QUERY_TERMS = 64
_WORD = re.compile(r"\w+")
_STOPWORDS_TEXT = """a about an and any are as at be been but by can could did do does for from had has have
how i if in into is it its me my no not of on or our so than that the their them then there these they
this those to too was we were what when where which while who whom why will with would you your"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
"""Words nearly every English chunk holds: ranking every row that has one costs a full scan (about
270 ms at 100k chunks) and tells bm25 almost nothing, so a query keeps them only if it has no other."""


def _changed(conn: sqlite3.Connection) -> int:
    """Count this write transaction, so other processes sharing the table see they are behind."""
    sql = "UPDATE meta SET value = value + 1 WHERE name = 'changes' RETURNING value"
    return int(conn.execute(sql).fetchone()[0])


def _reading(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` in one read transaction: under WAL its statements all see the same commit."""
    conn.execute("BEGIN")
    try:
        return fn(conn)
    finally:
        conn.execute("COMMIT")


def _chunk(row: Any) -> Chunk:
    id_, file_id, position, text, attributes, token_count = row[:6]
    return Chunk(id_, file_id, position, text, json.loads(attributes), token_count)


def query_terms(text: str) -> list[str]:
    """The words of free text as quoted FTS5 terms, stopwords left out (unless that leaves none).

    Each word is quoted, so FTS5 operators typed by a user (AND, NEAR, ``*``, ``:``) are just words.
    """
    words = list(dict.fromkeys(_WORD.findall(text.lower())))
    kept = [word for word in words if word not in STOPWORDS] or words
    return [f'"{word}"' for word in kept[:MAX_QUERY_TERMS]]


BUSY_TIMEOUT = 60.0
"""Seconds a statement waits for another process's write transaction (a compaction's relabel of a
large store is the longest) before it fails."""

COMMON_SHARE, COMMON_MIN = 0.05, 2000
"""A term in more than this share of the chunks (and more than ``COMMON_MIN`` of them) is common."""


class ChunkTable:
    def __init__(self, path: Path, dimension: int) -> None:
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        conn = self._conn()
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('dimension', ?), ('generation', 0), ('changes', 0)",
            (dimension,),
        )
        stored = self._meta("dimension")
        if stored != dimension:
            raise ValueError(f"index at {path} has dimension {stored}, not {dimension}")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._guard:
                self._connections.append(conn)
        return conn

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return transaction(self._conn(), fn)

    def _meta(self, name: str) -> int:
        return int(self._conn().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])

    def generation(self) -> int:
        return self._meta("generation")

    def changes(self) -> int:
        """How many write transactions the table has seen: a reader's cheap "am I behind?" check."""
        return self._meta("changes")

    def snapshot(self) -> tuple[int, int, Labels]:
        """(generation, changes, live labels) as of one instant, in one read transaction."""

        def read(conn: sqlite3.Connection) -> tuple[int, int, Labels]:
            meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
            labels = np.fromiter((row[0] for row in conn.execute("SELECT label FROM chunks")), np.int64)
            return int(meta["generation"]), int(meta["changes"]), labels

        return _reading(self._conn(), read)

    def insert(self, chunks: Sequence[Chunk], labels: Labels, before_commit: Callable[[], None]) -> int:
        """Insert rows; ``before_commit`` (the vector append) runs inside the transaction.

        Returns the new change count, like every write below."""

        def write(conn: sqlite3.Connection) -> int:
            first = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) + 1 FROM chunks").fetchone()[0])
            rows = [
                (
                    first + i,
                    c.id,
                    c.file_id,
                    c.position,
                    c.text,
                    json.dumps(c.attributes),
                    c.token_count,
                    int(label),
                )
                for i, (c, label) in enumerate(zip(chunks, labels, strict=True))
            ]
            try:
                conn.executemany(
                    f"INSERT INTO chunks (rowid, {COLUMNS}, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"a chunk id is already indexed: {exc}") from exc
            fts = [(row[0], row[4]) for row in rows]
            conn.executemany("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", fts)
            before_commit()
            return _changed(conn)

        return self._transaction(write)

    def delete_file(self, file_id: str) -> tuple[Labels, int]:
        def write(conn: sqlite3.Connection) -> tuple[Labels, int]:
            rows = conn.execute(
                "SELECT rowid, text, label FROM chunks WHERE file_id = ?", (file_id,)
            ).fetchall()
            conn.executemany(
                "INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', ?, ?)",
                [(rowid, text) for rowid, text, _ in rows],
            )
            conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            return np.array([label for _, _, label in rows], dtype=np.int64), _changed(conn)

        return self._transaction(write)

    def update_attributes(self, file_id: str, attributes: str) -> int:
        def write(conn: sqlite3.Connection) -> int:
            conn.execute("UPDATE chunks SET attributes = ? WHERE file_id = ?", (attributes, file_id))
            return _changed(conn)

        return self._transaction(write)

    def relabel(self, old_labels: Labels, generation: int) -> int:
        """Renumber ``old_labels`` (sorted) to 0..n-1 and switch generation, in one transaction.

        Ascending order never collides with the UNIQUE label: each new label is at most the old
        one, and the row that held it has already moved lower.
        """

        def write(conn: sqlite3.Connection) -> int:
            pairs = ((new, int(old)) for new, old in enumerate(old_labels))
            conn.executemany("UPDATE chunks SET label = ? WHERE label = ?", pairs)
            conn.execute("UPDATE meta SET value = ? WHERE name = 'generation'", (generation,))
            return _changed(conn)

        return self._transaction(write)

    def labels(self, filter: Filter | None = None) -> Labels:
        """Labels of every chunk, or of those passing ``filter`` (evaluated inside SQLite)."""
        where, params = to_sql(filter) if filter is not None else ("1", [])
        cursor = self._conn().execute(f"SELECT label FROM chunks WHERE {where}", params)
        return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def by_labels(self, labels: Iterable[int], generation: int) -> dict[int, Chunk] | None:
        """The chunks under ``labels`` of ``generation``; None if a compaction has renumbered them
        since (then the caller's labels mean other chunks). A label deleted meanwhile is missing."""
        wanted = [int(label) for label in labels]
        marks = ", ".join("?" * len(wanted))
        sql = f"SELECT {COLUMNS}, label FROM chunks WHERE label IN ({marks})"

        def read(conn: sqlite3.Connection) -> dict[int, Chunk] | None:
            if conn.execute("SELECT value FROM meta WHERE name = 'generation'").fetchone()[0] != generation:
                return None
            return {int(row[6]): _chunk(row) for row in conn.execute(sql, wanted)}

        return _reading(self._conn(), read)

    def _expression(self, text: str) -> str | None:
        """The FTS5 query for ``text``: the OR of its rarer terms, or the AND of its common ones.

        Ranking every chunk that holds a common term costs a scan of most of the index (about 50 ms
        at 100k chunks) for a term bm25 all but ignores, so common terms are dropped when rarer
        ones are there; a query made only of common terms asks for chunks with all of them.
        Counting a term's chunks stops at the limit, so the check costs well under a millisecond.
        """
        terms = query_terms(text)
        if len(terms) < 2:
            return terms[0] if terms else None
        rows = self._conn().execute("SELECT max(rowid) FROM chunks").fetchone()[0] or 0
        limit = max(COMMON_MIN, int(rows * COMMON_SHARE))
        count = "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
        rare = [t for t in terms if self._conn().execute(count, (t, limit + 1)).fetchone()[0] <= limit]
        return " OR ".join(rare) if rare else " AND ".join(terms)

    def keyword(self, text: str, k: int, filter: Filter | None) -> list[tuple[Chunk, float]]:
        """The top ``k`` chunks by bm25, the filter applied in the same query; bm25 as ``x/(1+x)``."""
        expression = self._expression(text)
        if expression is None or k <= 0:
            return []
        where, params = to_sql(filter) if filter is not None else ("1", [])
        # Rank (rowid, score) pairs alone, then read the k winners: sorting every match with its
        # text costs more than the ranking itself. The filter is in the ranking query's WHERE.
        sql = (
            f"SELECT {QUALIFIED}, ranked.rank FROM (SELECT chunks_fts.rowid AS hit, bm25(chunks_fts) AS rank"
            f" FROM chunks_fts JOIN chunks ON chunks.rowid = chunks_fts.rowid"
            f" WHERE chunks_fts MATCH ? AND {where} ORDER BY rank LIMIT ?) AS ranked"
            " JOIN chunks ON chunks.rowid = ranked.hit ORDER BY ranked.rank"
        )
        rows = self._conn().execute(sql, [expression, *params, k]).fetchall()
        return [(_chunk(row), max(-float(row[6]), 1e-9) / (1.0 + max(-float(row[6]), 1e-9))) for row in rows]

    def chunks_of(self, file_id: str) -> list[Chunk]:
        sql = f"SELECT {COLUMNS} FROM chunks WHERE file_id = ? ORDER BY position"
        return [_chunk(row) for row in self._conn().execute(sql, (file_id,))]

    def file_ids(self) -> set[str]:
        return {row[0] for row in self._conn().execute("SELECT DISTINCT file_id FROM chunks")}

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def close(self) -> None:
        with self._guard:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
