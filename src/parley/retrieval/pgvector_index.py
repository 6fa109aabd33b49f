"""A vector store's chunks in PostgreSQL: pgvector (HNSW, cosine) and full-text search, filtered
in SQL.

Every replica reads the same rows, so there is nothing to follow or invalidate: a file ingested
on one is found by the next search on any. The table (``storage/postgres/migrations.p002_chunks``)
holds every store's chunks; an HNSW index covers one dimension (``ensure_hnsw``), so a query casts
the column as that index does and names the dimension, which is how the planner picks it.

Searches filter inside the query (``pg_filters``): a vector search walks the graph until it has
``k`` chunks that pass (pgvector's iterative scan, ``hnsw.iterative_scan``, set per connection by
``PgDatabase``), rather than fetching ``k`` and filtering them afterwards, or, when few pass, ranks
exactly those (``EXACT_BELOW``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import asyncpg

from parley.retrieval.chunks import query_terms
from parley.retrieval.filters import Filter
from parley.retrieval.fusion import candidates_for, fuse
from parley.retrieval.index import Attributes, Chunk, Hit, StoreGone, Vectors
from parley.retrieval.pg_filters import filterable, pg_text, to_pg_sql
from parley.retrieval.store_index import StoreIndex, StoreQuery
from parley.storage.postgres.database import PgDatabase
from parley.storage.postgres.migrations import ensure_hnsw, vector_type

COLUMNS = ("vector_store_id", "file_id", "position", "text", "attributes", "filterable", "token_count",
           "dimension", "embedding")  # fmt: skip
READ = "file_id, position, text, attributes::text AS attributes, token_count"


EXACT_BELOW = 2048
"""A filter passing this few of a store's chunks is searched exactly. The planner would otherwise
weigh the HNSW walk by its estimates, and a walk that must pass over 99% of what it meets returns
poor neighbours slowly (recall@10 0.70 and 23 ms at 1% of 100k chunks, measured with
``hnsw.ef_search`` 64), where ranking the few that pass is exact and takes about a millisecond."""


def _chunk(row: asyncpg.Record) -> Chunk:
    file_id, position = row["file_id"], row["position"]
    attributes = json.loads(row["attributes"])
    return Chunk(f"{file_id}:{position}", file_id, position, row["text"], attributes, row["token_count"])


def _tsquery(text: str) -> str | None:
    """The OR of the query's words (stopwords left out unless nothing else is left), each quoted."""
    terms = [term.strip('"') for term in query_terms(text)]
    return " | ".join(f"'{term}'" for term in terms) or None


def _distance(dimension: int) -> str:
    """A row's cosine distance to the query vector ($2), as the dimension's HNSW index has it."""
    kind = vector_type(dimension)
    if kind is None:  # too wide for an index: searched exactly
        return "embedding <=> $2::vector"
    cast = f"::{kind}({dimension})"
    query = f"$2{cast}" if kind == "vector" else f"$2::vector{cast}"
    return f"embedding{cast} <=> {query}"


class PgVectorIndex:
    def __init__(self, db: PgDatabase, store_id: str, dimension: int) -> None:
        self.db, self.store_id, self.dimension = db, store_id, dimension
        self._distance = _distance(dimension)

    # --- writes ---------------------------------------------------------------------------------

    async def replace_file(self, file_id: str, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        if vectors.ndim != 2 or vectors.shape != (len(chunks), self.dimension):
            raise ValueError(
                f"expected vectors of shape ({len(chunks)}, {self.dimension}), got {vectors.shape}"
            )
        rows = [
            (self.store_id, file_id, chunk.position, pg_text(chunk.text), json.dumps(chunk.attributes),
             filterable(chunk.attributes), chunk.token_count, self.dimension, vector)
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]  # fmt: skip
        try:
            async with self.db.transaction() as conn:
                await conn.execute(
                    "DELETE FROM chunks WHERE vector_store_id = $1 AND file_id = $2", self.store_id, file_id
                )
                await conn.copy_records_to_table("chunks", records=rows, columns=COLUMNS)
        except asyncpg.ForeignKeyViolationError as exc:
            raise StoreGone(self.store_id) from exc

    async def delete_file(self, file_id: str) -> int:
        status = await self.db.execute(
            "DELETE FROM chunks WHERE vector_store_id = $1 AND file_id = $2", self.store_id, file_id
        )
        return int(status.split()[-1])

    async def update_attributes(self, file_id: str, attributes: Attributes) -> None:
        await self.db.execute(
            "UPDATE chunks SET attributes = $3, filterable = $4 WHERE vector_store_id = $1 AND file_id = $2",
            self.store_id, file_id, json.dumps(attributes), filterable(attributes),
        )  # fmt: skip

    # --- searches -------------------------------------------------------------------------------

    async def search(self, query: StoreQuery) -> list[Hit]:
        if query.mode == "keyword":
            return await self.keyword_search(query.text, query.k, query.filter)
        if query.vector is None:
            raise ValueError(f"{query.mode} search needs a query vector")
        if query.mode == "vector":
            return await self.vector_search(query.vector, query.k, query.filter)
        depth = candidates_for(query.k)
        by_vector, by_keyword = await asyncio.gather(
            self.vector_search(query.vector, depth, query.filter),
            self.keyword_search(query.text, depth, query.filter),
        )
        return fuse(by_vector, by_keyword, query.k, query.fusion)

    async def vector_search(self, vector: Vectors, k: int, filter: Filter | None) -> list[Hit]:
        """Cosine similarity, clipped to [0, 1]."""
        params: list[object] = [self.store_id, vector.reshape(-1), k]
        sql = self.vector_sql(to_pg_sql(filter, params) if filter is not None else None)
        rows = await self.db.fetch(sql, *params)
        return [Hit(_chunk(row), min(max(1.0 - float(row["distance"]), 0.0), 1.0)) for row in rows]

    def vector_sql(self, where: str | None) -> str:
        """The store's ($1) ``k`` ($3) nearest chunks to a vector ($2) that pass ``where``.

        The HNSW walk may return them slightly out of order (iterative scan), so they are sorted
        again. A filter that passes at most ``EXACT_BELOW`` chunks is searched exactly instead:
        the rows that pass are found once (``passing``), and either they are ranked or, when
        there are more, the graph is walked; the other branch never runs (a one-time filter)."""
        if where is None:
            return f"SELECT * FROM ({self._walk('true')}) AS found ORDER BY distance"
        return (
            f"WITH passing AS MATERIALIZED (SELECT ctid AS at FROM chunks WHERE vector_store_id = $1"
            f" AND dimension = {self.dimension} AND {where} LIMIT {EXACT_BELOW + 1}),"
            f" few AS (SELECT count(*) <= {EXACT_BELOW} AS exact FROM passing)"
            f" SELECT * FROM ((SELECT {READ}, embedding <=> $2::vector AS distance FROM chunks"
            " WHERE ctid = ANY(ARRAY(SELECT at FROM passing)) AND (SELECT exact FROM few)"
            " ORDER BY distance LIMIT $3)"
            f" UNION ALL ({self._walk(f'{where} AND NOT (SELECT exact FROM few)')})) AS found"
            " ORDER BY distance"
        )

    def _walk(self, where: str) -> str:
        return (
            f"SELECT {READ}, {self._distance} AS distance FROM chunks"
            f" WHERE vector_store_id = $1 AND dimension = {self.dimension} AND {where}"
            f" ORDER BY {self._distance} LIMIT $3"
        )

    async def keyword_search(self, text: str, k: int, filter: Filter | None) -> list[Hit]:
        """Full-text search ranked by ``ts_rank`` (length-normalized), squashed into (0, 1) as
        ``x / (1 + x)``, as bm25 is for the embedded index."""
        terms = _tsquery(text)
        if terms is None or k <= 0:
            return []
        params: list[object] = [self.store_id, terms, k]
        where = to_pg_sql(filter, params) if filter is not None else "true"
        sql = (
            f"SELECT {READ}, ts_rank(words, query, 1 | 32) AS rank"
            " FROM chunks, to_tsquery('english', $2) AS query"
            f" WHERE vector_store_id = $1 AND words @@ query AND {where} ORDER BY rank DESC LIMIT $3"
        )
        rows = await self.db.fetch(sql, *params)
        return [Hit(_chunk(row), min(max(float(row["rank"]), 1e-9), 1.0)) for row in rows]

    # --- reads ----------------------------------------------------------------------------------

    async def chunks_of(self, file_id: str) -> list[Chunk]:
        sql = f"SELECT {READ} FROM chunks WHERE vector_store_id = $1 AND file_id = $2 ORDER BY position"
        return [_chunk(row) for row in await self.db.fetch(sql, self.store_id, file_id)]

    async def count(self) -> int:
        row = await self.db.fetchrow("SELECT count(*) FROM chunks WHERE vector_store_id = $1", self.store_id)
        assert row is not None
        return int(row[0])

    async def close(self) -> None:
        """Nothing is held: the rows stay in the database, which the stores' owner closes."""


class PgVectorIndexes:
    """Every store's chunks in one table of the server's database."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        self._indexed: set[int] = set()

    async def open(self, store_id: str, dimension: int) -> StoreIndex:
        if dimension not in self._indexed:
            async with self.db.connection() as conn:
                await ensure_hnsw(conn, dimension)
            self._indexed.add(dimension)
        return PgVectorIndex(self.db, store_id, dimension)

    async def remove(self, store_id: str) -> None:
        """Nothing: the store's chunks went with its row (``ON DELETE CASCADE``), in one statement."""
