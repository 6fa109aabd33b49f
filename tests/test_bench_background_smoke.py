"""``benchmarks/bench_background.py --quick`` runs end to end on real servers and reports all three
questions, with every background response completed."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_background_benchmark_reports_bulk_first_event_and_persist_cost() -> None:
    report = quick_report("bench_background.py")
    assert report["bulk"]["by_status"] == {"completed": 60, "lost": 0}
    assert report["first_event"]["left_by_status"] == {"completed": 20, "lost": 0}
    assert report["first_event"]["p50_ms"] > 0
    cost = report["persist_cost"]
    for kind in ("foreground", "background"):
        assert cost[kind]["cpu_ms_per_response"] > 0
        assert cost[kind]["events_per_response"] > 20
    assert cost["cpu_ratio_background_over_foreground"] is not None
    assert report["errors"]["count"] == 0
