"""``parley serve --workers N`` as a real process, and connections pinned to one worker each.

The kernel hands each new connection to whichever worker accepts it first. To run one step on one
worker and the next on another, a test opens connections until it has one on each, then keeps
them (HTTP keep-alive): which worker holds a connection is read from procfs (the socket's inode in
``/proc/net/tcp``, found among the worker's open files).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Json = dict[str, Any]
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Connection:
    """One keep-alive HTTP connection, so every request on it reaches the same worker."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self._http.connect()
        assert self._http.sock is not None
        self.local_port: int = self._http.sock.getsockname()[1]

    def request(self, method: str, path: str, body: Json | None = None) -> tuple[int, Json]:
        headers = {"content-type": "application/json"} if body is not None else {}
        self._http.request(method, path, json.dumps(body) if body is not None else None, headers)
        answer = self._http.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")

    def upload(self, filename: str, data: bytes) -> Json:
        """``POST /v1/files`` (purpose ``assistants``) as multipart form data."""
        boundary = "parley-test-boundary"
        parts = [
            f'--{boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'.encode(),
            f'--{boundary}\r\ncontent-disposition: form-data; name="file"; filename="{filename}"\r\n'.encode()
            + b"content-type: text/plain\r\n\r\n"
            + data
            + f"\r\n--{boundary}--\r\n".encode(),
        ]
        headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
        self._http.request("POST", "/v1/files", b"".join(parts), headers)
        answer = self._http.getresponse()
        body: Json = json.loads(answer.read())
        assert answer.status == 200, body
        return body

    def stream(self, body: Json) -> Iterator[Json]:
        """The events of a streamed create, as they arrive."""
        self._http.request(
            "POST",
            "/v1/responses",
            json.dumps({**body, "stream": True}),
            {"content-type": "application/json"},
        )
        answer = self._http.getresponse()
        assert answer.status == 200, answer.read()
        for line in answer:
            if line.startswith(b"data: [DONE]"):
                answer.read()  # to the end of the body, so the connection takes the next request
                return
            if line.startswith(b"data: "):
                yield json.loads(line[6:])

    def close(self) -> None:
        self._http.close()


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from ``client_port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                local, remote = fields[1], fields[2]
                if (
                    int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    return fields[9]
    return None


def worker_of(connection: Connection, workers: list[int]) -> int | None:
    inode = _socket_inode(connection.port, connection.local_port)
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
    return None


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


class WorkerServer:
    """``parley serve --workers N`` on loopback, with a connection pinned to each worker."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.connections: dict[int, Connection] = {}

    def workers(self) -> list[int]:
        """The worker processes: the supervisor's children that listen (not its helper processes)."""
        return [pid for pid in children(self.process.pid) if Path(f"/proc/{pid}/fd").exists()]

    def pin(self, count: int, attempts: int = 400) -> list[Connection]:
        """One open connection on each of ``count`` different workers (new ones: none is reused)."""
        self.close()
        self.connections = {}
        spare: list[Connection] = []
        for _ in range(attempts):
            connection = Connection(self.port)
            status, _ = connection.request("GET", "/health")  # accepted, so its worker holds it
            assert status == 200
            pid = worker_of(connection, self.workers())
            if pid is not None and pid not in self.connections:
                self.connections[pid] = connection
            else:
                spare.append(connection)
            if len(self.connections) == count:
                break
        for connection in spare:
            connection.close()
        assert len(self.connections) == count, f"connections reached {len(self.connections)} workers"
        return list(self.connections.values())

    def pid_of(self, connection: Connection) -> int:
        return next(pid for pid, held in self.connections.items() if held is connection)

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


@contextlib.contextmanager
def parley_workers(workers: int, provider_url: str, data_dir: Path, *flags: str) -> Iterator[WorkerServer]:
    """``flags``: more of ``parley serve``'s (``--database-url ...``)."""
    port = free_port()
    log = data_dir.parent / f"parley-workers-{port}.log"
    argv = [sys.executable, "-m", "parley", "serve", "--workers", str(workers), "--port", str(port)]
    argv += ["--provider-url", provider_url, "--provider-server", "generic", "--data-dir", str(data_dir)]
    argv += flags
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = WorkerServer(process, port, log)
    try:
        _wait_until_serving(server, workers)
        yield server
    finally:
        server.close()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(server: WorkerServer, workers: int) -> None:
    """Until each worker has said its start-up is complete (uvicorn's line, once per worker)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"parley serve exited:\n{server.log.read_text()[-3000:]}")
        if server.log.read_text().count("Application startup complete") >= workers:
            return
        time.sleep(0.1)
    raise TimeoutError(f"parley serve --workers {workers} did not start:\n{server.log.read_text()[-3000:]}")


def ingested(connection: Connection, store_id: str, file_id: str) -> dict[str, object]:
    """The vector-store file once it has left ``in_progress`` (or after a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, attached = connection.request("GET", f"/v1/vector_stores/{store_id}/files/{file_id}")
        assert status == 200, attached
        if attached["status"] != "in_progress":
            break
        time.sleep(0.1)
    return attached


def search_store(connection: Connection, store_id: str, query: str) -> list[dict[str, Any]]:
    status, found = connection.request("POST", f"/v1/vector_stores/{store_id}/search", {"query": query})
    assert status == 200, found
    hits: list[dict[str, Any]] = found["data"]
    return hits
