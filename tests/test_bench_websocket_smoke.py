"""``benchmarks/bench_websocket.py --quick`` runs end to end on real servers and reports both transports."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_websocket_benchmark_reports_both_transports_at_both_levels() -> None:
    report = quick_report("bench_websocket.py")
    assert set(report["results"]) == {"c1", "c32"}
    for level in report["results"].values():
        for transport in ("http", "ws"):
            assert level[transport]["turns"] >= 96
            assert level[transport]["p50_ms"] > 0
            assert level[transport]["parley_cpu_ms_per_turn"] > 0
        assert level["cpu_ratio_ws_over_http"] > 0
        assert level["p50_ratio_ws_over_http"] > 0
