"""A counter that every process sharing a data dir reads at memory speed: 8 bytes of a file mapped
into each process.

The chain cache keeps stored chains in memory, and only a delete makes an entry stale. With several
worker processes, a delete on one must empty every other's cache before its answer goes out; a
read of the database per cache hit would cost what the cache saves. So a delete bumps this counter
(under an exclusive ``flock``, as deletes are rare) and a reader compares one mapped word with the
value it last saw.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

_WORD = struct.Struct("<Q")


class SharedCounter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < _WORD.size:
            os.ftruncate(self._fd, _WORD.size)  # zeros; a racing creator writes the same zeros
        self._map = mmap.mmap(self._fd, _WORD.size)

    def value(self) -> int:
        return int(_WORD.unpack_from(self._map)[0])

    def bump(self) -> int:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            value = self.value() + 1
            _WORD.pack_into(self._map, 0, value)
            return value
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if not self._map.closed:
            self._map.close()
            os.close(self._fd)
