"""Sealed reasoning: keys from config or the data dir, and what tampering looks like."""

from __future__ import annotations

import base64
import os
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


def test_configured_key_wins_and_is_checked(tmp_path: Path) -> None:
    key = os.urandom(32)
    assert load_or_create_key(base64.b64encode(key).decode(), tmp_path / "unused") == key
    assert not (tmp_path / "unused").exists()
    with pytest.raises(ValueError, match="32 bytes"):
        load_or_create_key(base64.b64encode(b"short").decode(), tmp_path / "unused")
    with pytest.raises(ValueError, match="32 bytes"):
        ReasoningSealer(b"short")
