"""pgvector's ``vector`` type in asyncpg, in binary: an embedding travels as its float32s (1.5 KB
for 384 dimensions) rather than as text (about 4 KB of digits parsed on both sides).

The wire format is pgvector's ``vector_send``: the dimension and a reserved zero, each a big-endian
int16, then the values as big-endian float4.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import asyncpg
import numpy as np
import numpy.typing as npt

from parley.storage.postgres.migrations import Connection

_HEADER = struct.Struct(">HH")


def encode_vector(value: npt.ArrayLike | Sequence[float]) -> bytes:
    values = np.asarray(value, dtype=">f4").reshape(-1)
    return _HEADER.pack(len(values), 0) + values.tobytes()


def decode_vector(data: bytes) -> npt.NDArray[np.float32]:
    dimension, _ = _HEADER.unpack_from(data)
    return np.frombuffer(data, dtype=">f4", count=dimension, offset=_HEADER.size).astype(np.float32)


async def register_vector(conn: asyncpg.Connection[asyncpg.Record] | Connection) -> None:
    """Teach this connection the type, once the extension exists (a migration creates it, on a
    connection opened before it did)."""
    schema = await conn.fetchval(
        "SELECT nspname FROM pg_type JOIN pg_namespace ON pg_namespace.oid = typnamespace"
        " WHERE pg_type.oid = to_regtype('vector')"
    )
    if schema is None:
        return
    await conn.set_type_codec(
        "vector", schema=schema, encoder=encode_vector, decoder=decode_vector, format="binary"
    )
