"""A real SQLite database per test, migrated, closed afterwards: what every store test stands on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.storage.sqlite import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "parley.db")
    yield database
    await database.aclose()
