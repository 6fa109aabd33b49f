"""``benchmarks/bench_hosted.py --quick`` runs end to end on real servers and reports every kind of turn."""

from __future__ import annotations

from tests.support.bench import quick_report


def test_quick_hosted_benchmark_reports_both_hosted_steps() -> None:
    report = quick_report("bench_hosted.py", timeout=60)
    assert report["errors"] == 0
    assert set(report["results"]) == {"plain", "web_search", "plain_chain", "mcp_chain"}
    for kind in report["results"].values():
        assert kind["turns"] == 30
        assert kind["p50_ms"] > 0
        assert kind["parley_cpu_ms_per_turn"] > 0
    for hosted in ("web_search", "mcp_chain"):
        assert report["results"][hosted]["tool_alone_ms"] > 0
        assert report["added"][hosted]["added_ms_p50"] is not None
    mcp = report["mcp_server"]
    assert mcp["tools_list_per_chain"] == 1
    assert mcp["sessions_opened_in_all"] == 1
    assert isinstance(report["targets_met"], bool)
