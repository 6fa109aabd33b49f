"""``benchmarks/bench_postgres.py --quick`` runs end to end on real servers (one PostgreSQL, two
replicas over it, one SQLite server) and reports each run's rate and CPU, and the chain's ratio."""

from __future__ import annotations

from tests.support.bench import quick_report

ROW_KEYS = {
    "n",
    "per_s",
    "p50_ms",
    "p99_ms",
    "parley_cpu_ms_per_request",
    "upstream_cpu_ms_per_request",
    "postgres_cpu_ms_per_request",
    "client_cpu_ms_per_request",
    "all_cpu_ms_per_request",
    "cpu_ceiling_per_s",
    "cores_busy",
    "machine_cores_busy",
    "split",
    "per_s_rounds",
}


def test_quick_postgres_benchmark_reports_replicas_and_chain() -> None:
    report = quick_report("bench_postgres.py", timeout=180)
    assert set(report["nonstream"]) == {"sqlite_one", "postgres_one", "postgres_two"}
    for row in report["nonstream"].values():
        assert set(row) == ROW_KEYS
        assert row["n"] > 0
        assert row["per_s"] > 0
        assert row["parley_cpu_ms_per_request"] > 0
    assert len(report["nonstream"]["postgres_two"]["split"]) == 2
    assert all(n > 0 for n in report["nonstream"]["postgres_two"]["split"])
    assert report["nonstream"]["postgres_one"]["postgres_cpu_ms_per_request"] > 0  # pgserver runs here
    assert report["two_replicas_vs_one"] > 0
    assert report["postgres_vs_sqlite"] > 0
    assert report["postgres_version"]
    assert set(report["chain"]) == {"postgres", "sqlite", "upstream"}
    assert all(stats["chains"] == 2 for stats in report["chain"].values())
    assert report["chain_turn50_over_turn1"] > 0
    assert report["errors"] == 0
