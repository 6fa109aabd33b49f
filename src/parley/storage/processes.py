"""Names of processes sharing one database, for the rows they hold: leases and claims (background
jobs, files being ingested), locks, and responses marked as running.

A lease or a claim holder is named per instance (``instance_name``): several servers may run in
one process (tests do), and each must renew only its own. A lock or a running response is held by
the process itself (``this_process``), whose name lets another process on the machine tell whether
it still runs (``process_alive``), as a lock held by a dead process would otherwise stay held.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def this_process() -> str:
    """Host, pid, and the pid's start time (a pid is reused; the pair is not)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def _started(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"  # no procfs: the pid alone is checked
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def process_alive(worker: str) -> bool:
    """Whether ``worker`` (``this_process()``) runs; one of another host is assumed to."""
    host, pid_text, started = worker.rsplit(":", 2)
    if host != socket.gethostname():
        return True
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return started in ("?", _started(pid))
