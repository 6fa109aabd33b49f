"""The one-writer rule of an index directory, across processes.

Worker processes of one server (and a ``parley ingest`` beside it) share each store's index
directory. Every write to it holds this lock: an exclusive ``flock`` on ``writer.lock`` in the
directory. ``flock`` rather than ``lockf``: an ``flock`` belongs to the open file, not to the
process, so two indexes opened on one directory in the same process exclude each other too
(which is also what lets tests check the rule without a second process). The kernel drops the
lock when its holder dies, so a crashed writer never leaves a directory locked.

Threads of one index share one lock file; the index serializes them with its own thread lock
before taking this one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

LOCK_FILE = "writer.lock"


class DirectoryLock:
    def __init__(self, directory: Path) -> None:
        self._fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> DirectoryLock:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    def try_acquire(self) -> bool:
        """Take the lock only if no one holds it (for housekeeping that can wait for another time)."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)
