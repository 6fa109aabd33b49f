"""The web_search tool's pure parts: markdown links to url_citations, the tool result layout, the
read-back of stored and echoed items, and the settings that choose a provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.config import ConfigError, load_settings
from parley.engine.include import hidden_fields, public_item
from parley.tools.base import query_argument as _query
from parley.tools.web_citations import LinkAnnotator
from parley.tools.web_search import _domain, read_call, tool_result_text

NASA = "https://science.nasa.gov/saturn/"
TITLES = {NASA: "Saturn - NASA", "https://example.org/page#top": "Example"}


def annotate(pieces: list[str]) -> tuple[str, list[dict[str, object]]]:
    annotator = LinkAnnotator(TITLES)
    out = [p for piece in pieces for p in annotator.feed(piece)] + annotator.flush()
    return "".join(p for p in out if isinstance(p, str)), [p for p in out if isinstance(p, dict)]


def test_a_link_split_over_deltas_becomes_one_citation_spanning_it() -> None:
    text = "Rings ([science.nasa.gov](https://science.nasa.gov/saturn)). Also [x](https://other.org/)."
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    shown, annotations = annotate(pieces)
    assert shown == text
    link = "[science.nasa.gov](https://science.nasa.gov/saturn)"
    start = text.index(link)
    assert annotations == [
        {"type": "url_citation", "url": NASA, "title": "Saturn - NASA", "start_index": start,
         "end_index": start + len(link)},
    ]  # fmt: skip


def test_every_link_to_a_result_is_cited_in_order_and_offsets_count_earlier_deltas() -> None:
    first = "A [one](https://example.org/page) b "
    second = "[two](https://science.nasa.gov/saturn/) [unclosed](https://x"
    shown, annotations = annotate([first, second, "\n" + "y" * 3000])
    assert [a["title"] for a in annotations] == ["Example", "Saturn - NASA"]
    spans = [(int(str(a["start_index"])), int(str(a["end_index"]))) for a in annotations]
    assert [shown[start:end] for start, end in spans] == [
        "[one](https://example.org/page)",
        "[two](https://science.nasa.gov/saturn/)",
    ]


def test_the_tool_result_layout() -> None:
    assert tool_result_text("q", []) == ""
    assert tool_result_text("q", [], "boom") == "web_search failed: boom"
    text = tool_result_text("q", [{"url": NASA, "title": "Saturn", "text": "Rings."}])
    assert text.startswith('web_search found 1 results for "q":\n\n[1] Saturn\nURL: ' + NASA + "\nRings.\n\n")


def test_an_echoed_openai_item_reads_back_as_a_call_with_an_empty_result() -> None:
    item = {"id": "ws_abc", "type": "web_search_call", "status": "completed",
            "action": {"type": "search", "queries": ["a", "b"]}}  # fmt: skip
    piece = read_call(item, None)  # type: ignore[arg-type]
    assert piece.tool_calls[0]["function"] == {"name": "web_search", "arguments": '{"query":"a; b"}'}
    assert piece.messages == [{"role": "tool", "tool_call_id": "call_abc", "content": ""}]


def test_a_query_is_read_leniently() -> None:
    assert _query('{"query": "x"}') == "x"
    assert _query('{"q": "x", "n": 1}') == "x"
    assert _query("not json") == "not json"
    assert _query('"just a string"') == "just a string"
    assert _query("") == ""
    assert _domain("https://WWW.Example.org/path") == "www.example.org"
    assert _domain("example.org/path") == "example.org"


def test_private_and_included_fields_of_a_web_search_call() -> None:
    action = {"type": "search", "query": "q", "sources": [{"type": "url", "url": NASA}]}
    item = {"id": "ws_1", "type": "web_search_call", "status": "completed", "results": [], "action": action}
    hidden = public_item(item, hidden_fields(()))
    assert "results" not in hidden
    assert hidden["action"]["sources"] is None
    shown = public_item(item, hidden_fields(["web_search_call.action.sources"]))
    assert "results" not in shown
    assert shown["action"] == item["action"]


def test_settings_choose_a_provider_and_name_what_it_lacks(tmp_path: Path) -> None:
    env = {"PARLEY_WEB_SEARCH_PROVIDER": "SearXNG", "PARLEY_SEARXNG_URL": "http://localhost:8888"}
    settings = load_settings({}, environ=env)
    assert (settings.web_search_provider, settings.searxng_url) == ("searxng", "http://localhost:8888")
    assert load_settings({}, environ={"TAVILY_API_KEY": "k"}).web_search_provider is None
    with pytest.raises(ConfigError, match=r"web_search_provider brave needs brave_api_key \(BRAVE_API_KEY\)"):
        load_settings({}, environ={"PARLEY_WEB_SEARCH_PROVIDER": "brave"})
    with pytest.raises(ConfigError, match="one of searxng, tavily, brave, not 'bing'"):
        load_settings({}, environ={"PARLEY_WEB_SEARCH_PROVIDER": "bing"})
