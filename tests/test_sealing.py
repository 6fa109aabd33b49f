"""Sealed reasoning: keys from config or the data dir, and what tampering looks like."""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from parley.sealing import PREFIX, ReasoningSealer, Tampered, load_or_create_key


def test_round_trip_and_foreign_content() -> None:
    sealer = ReasoningSealer(os.urandom(32))
    sealed = sealer.seal("think")
    assert sealed.startswith(PREFIX)
    assert sealer.open(sealed) == "think"
    assert sealer.seal("think") != sealed  # a fresh nonce every time
    assert not sealer.is_ours("gAAAAABopenai")


def test_another_deployment_cannot_open_it() -> None:
    sealed = ReasoningSealer(os.urandom(32)).seal("think")
    with pytest.raises(Tampered):
        ReasoningSealer(os.urandom(32)).open(sealed)
    with pytest.raises(Tampered):
        ReasoningSealer(os.urandom(32)).open(PREFIX + "not base64 at all!")


def test_generated_key_is_kept_in_the_data_dir(tmp_path: Path) -> None:
    path = tmp_path / "state" / "reasoning.key"
    first = load_or_create_key(None, path)
    assert load_or_create_key(None, path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def _key_at(path: str, start: float) -> bytes:
    while time.time() < start:  # every process ready, then all at once
        pass
    return load_or_create_key(None, Path(path))


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    """A server's workers create the key together on a first start: all of them end up with the one
    in the file, whole (never one still being written, or their own lost)."""
    path = tmp_path / "reasoning.key"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        pool.starmap(_key_at, [(str(tmp_path / "warm.key"), 0.0)] * 6)  # every process started
        (tmp_path / "warm.key").unlink()
        for _ in range(5):
            path.unlink(missing_ok=True)
            keys = pool.starmap(_key_at, [(str(path), time.time() + 0.2)] * 6)
            assert len(set(keys)) == 1
            assert keys[0] == base64.b64decode(path.read_text())
            assert len(keys[0]) == 32
    assert [p.name for p in tmp_path.iterdir()] == ["reasoning.key"]  # no draft left behind


def test_configured_key_wins_and_is_checked(tmp_path: Path) -> None:
    key = os.urandom(32)
    assert load_or_create_key(base64.b64encode(key).decode(), tmp_path / "unused") == key
    assert not (tmp_path / "unused").exists()
    with pytest.raises(ValueError, match="32 bytes"):
        load_or_create_key(base64.b64encode(b"short").decode(), tmp_path / "unused")
    with pytest.raises(ValueError, match="32 bytes"):
        ReasoningSealer(b"short")


async def test_a_fetched_key_is_fetched_once_on_start() -> None:
    """Replicas over one PostgreSQL fetch the key they share as they start; until then nothing is
    sealed (under no key at all), and turns starting together fetch it once between them."""
    key = os.urandom(32)
    fetches = 0

    async def fetch_key() -> bytes:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.01)
        return key

    sealer = ReasoningSealer(fetch_key)
    with pytest.raises(RuntimeError, match="start"):
        sealer.seal("think")
    await asyncio.gather(*(sealer.start() for _ in range(5)))
    await sealer.start()
    assert fetches == 1
    assert ReasoningSealer(key).open(sealer.seal("think")) == "think"
