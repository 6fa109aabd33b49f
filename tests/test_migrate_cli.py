"""``parley migrate``: brings either backend's schema up to date, says what it applied, and says
plainly when the database cannot be reached."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from parley.cli import main
from parley.storage.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from parley.storage.sqlite.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from tests.support.postgres import fresh_schema
from tests.support.workers import free_port


def test_migrate_sqlite_applies_then_finds_it_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--data-dir", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert str(tmp_path / "parley.db") in said
    assert all(migration.__name__ in said for migration in SQLITE_MIGRATIONS)
    assert main(["migrate", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("up to date.")


def test_migrate_postgres_applies_then_finds_it_up_to_date(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def migrate_twice() -> tuple[int, str, int, str]:
        async with fresh_schema(postgres_url) as url:
            first = await asyncio.to_thread(main, ["migrate", "--database-url", url])
            said = capsys.readouterr().out
            second = await asyncio.to_thread(main, ["migrate", "--database-url", url])
            return first, said, second, capsys.readouterr().out

    first, said, second, again = asyncio.run(migrate_twice())
    assert first == 0
    assert all(migration.__name__ in said for migration in PG_MIGRATIONS)
    assert (second, again.strip()[-11:]) == (0, "up to date.")


def test_migrate_names_a_database_it_cannot_reach(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://parley:secret@127.0.0.1:{free_port()}/parley"
    assert main(["migrate", "--database-url", url]) == 1
    said = capsys.readouterr().err
    assert "cannot be reached" in said
    assert "secret" not in said  # the password is never printed
    assert "parley:***@127.0.0.1" in said


def test_a_database_url_that_is_not_postgres_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--database-url", "mysql://x@y/z"]) == 2
    assert "must be a PostgreSQL URL" in capsys.readouterr().err
