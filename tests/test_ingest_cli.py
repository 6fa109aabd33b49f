"""`parley ingest` over a folder of 1,000 files, run twice; and as a user runs it, a real process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from parley.app import create_app, shutdown
from parley.cli import main
from tests.conftest import make_settings
from tests.support.postgres import fresh_schema_outside_a_loop


def run_ingest(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "parley", "ingest", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def write_corpus(folder: Path, count: int) -> None:
    for n in range(count):
        sub = folder / f"part{n % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        code = f"zx{n * 7919 % 100003}"
        (sub / f"note{n:04d}.md").write_text(f"# Note {n}\n\nThe code word of note {n} is {code}.\n")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.txt").write_text("never ingested")


def test_a_thousand_files_with_progress_then_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_corpus(corpus, 1000)
    arguments = ["ingest", str(corpus), "--vector-store", "notes", "--data-dir", str(data)]

    assert main(arguments) == 0
    first = capsys.readouterr().err
    assert "1000/1000" in first  # the progress bar, on stderr
    assert "1000 ingested, 0 already there, 0 failed" in first

    assert main(arguments) == 0
    assert "0 ingested, 1000 already there, 0 failed" in capsys.readouterr().err
    asyncio.run(search_finds_note(data, 123, of=1000))


async def search_finds_note(data: Path, note: int, *, of: int, database_url: str | None = None) -> None:
    """A server over what ``parley ingest`` wrote finds ``note`` by its code word, among ``of``."""
    app = create_app(make_settings(data, database_url=database_url))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://p") as client:
        (store,) = (await client.get("/v1/vector_stores")).json()["data"]
        assert store["name"] == "notes"
        assert store["file_counts"]["completed"] == of
        found = await client.post(
            f"/v1/vector_stores/{store['id']}/search",
            json={"query": f"zx{note * 7919 % 100003}", "search_mode": "keyword", "max_num_results": 1},
        )
        assert found.status_code == 200, found.text
        assert found.json()["data"][0]["filename"] == f"note{note:04d}.md"
    await shutdown(app)


def test_a_file_that_cannot_be_read_is_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Readable text.")
    (corpus / "empty.txt").write_text("")
    result = run_ingest(corpus, "--vector-store", "mixed", "--data-dir", tmp_path / "data")
    assert result.returncode == 1
    assert "1 ingested, 0 already there, 1 failed" in result.stderr
    assert "empty" in result.stderr.lower()


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    result = run_ingest(tmp_path / "nowhere", "--vector-store", "x", "--data-dir", tmp_path / "data")
    assert result.returncode == 2
    assert "No such file or directory" in result.stderr


def test_ingest_over_postgres_is_what_a_server_over_it_searches(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_corpus(corpus, 30)
    with fresh_schema_outside_a_loop(postgres_url) as url:
        arguments = ["ingest", str(corpus), "--vector-store", "notes", "--data-dir", str(data)]
        assert main([*arguments, "--database-url", url]) == 0
        assert "30 ingested, 0 already there, 0 failed" in capsys.readouterr().err
        assert main([*arguments, "--database-url", url]) == 0
        assert "0 ingested, 30 already there, 0 failed" in capsys.readouterr().err
        asyncio.run(search_finds_note(data, 12, of=30, database_url=url))
