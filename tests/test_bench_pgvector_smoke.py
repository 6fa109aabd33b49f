"""``benchmarks/bench_pgvector.py --quick`` runs end to end: the embedded index and pgvector (in a
PostgreSQL it starts) built through the same seam, and each search's recall and speed reported."""

from __future__ import annotations

from tests.support.bench import quick_report

SEARCHES = ("none", "filter_10pct", "filter_1pct")
TIMED = {"qps", "p50_ms", "p99_ms", "cpu_ms_per_query", "postgres_cpu_ms_per_query"}


def test_quick_pgvector_benchmark_reports_recall_and_speed_of_both_indexes() -> None:
    report = quick_report("bench_pgvector.py", timeout=240)
    for side in ("embedded", "pgvector"):
        result = report[side]
        assert result["build_s"] > 0
        for name in SEARCHES:
            assert result[name]["recall_at_10"] >= 0.9, (side, name)  # 5k chunks: nearly exact
            assert set(result[name]["one_at_a_time"]) == TIMED
            assert result[name]["concurrent_8"]["qps"] > 0
        assert result["keyword"]["qps"] > 0
        assert result["hybrid"]["qps"] > 0
    assert report["pgvector"]["none"]["one_at_a_time"]["postgres_cpu_ms_per_query"] > 0  # pgserver runs here
    assert set(report["pgvector_vs_embedded_qps"]) == set(SEARCHES)
    assert report["recall_at_10"]["none"]["pgvector"] >= 0.9
