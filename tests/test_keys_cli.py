"""``parley keys`` and the serve command's refusal to listen beyond loopback without keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.cli import main
from tests.support.postgres import fresh_schema_outside_a_loop


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_create_prints_the_key_alone_on_the_last_line_and_list_never_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(
        capsys, "keys", "create", "--owner", "alice", "--name", "laptop", "--data-dir", str(tmp_path)
    )
    assert code == 0
    secret = lines[-1]
    assert secret.startswith("sk-parley-")
    assert " " not in secret
    assert len(secret) > 40
    code, admin_lines, _ = run(
        capsys, "keys", "create", "--owner", "ops", "--admin", "--data-dir", str(tmp_path)
    )
    code, listed, _ = run(capsys, "keys", "list", "--data-dir", str(tmp_path))
    assert code == 0
    assert len(listed) == 2
    assert "owner=alice  user  active" in listed[0]
    assert "laptop" in listed[0]
    assert "owner=ops  admin  active" in listed[1]
    assert secret not in "\n".join(listed)
    assert admin_lines[-1] not in "\n".join(listed)
    assert secret.encode() not in (tmp_path / "parley.db").read_bytes()  # only its digest is kept

    key_id = listed[0].split()[0]
    assert run(capsys, "keys", "revoke", key_id, "--data-dir", str(tmp_path))[0] == 0
    code, _, err = run(capsys, "keys", "revoke", key_id, "--data-dir", str(tmp_path))
    assert code == 1
    assert "no active key" in err
    assert "owner=alice  user  revoked" in run(capsys, "keys", "list", "--data-dir", str(tmp_path))[1][0]


def test_serve_refuses_a_public_interface_without_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert code == 2
    assert "without API keys" in err
    assert "--allow-unauthenticated" in err


def test_keys_made_over_postgres_are_kept_there(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--database-url``: the keys live in PostgreSQL, where every replica reads them, not in the
    data dir."""
    with fresh_schema_outside_a_loop(postgres_url) as url:
        where = ("--database-url", url, "--data-dir", str(tmp_path))
        code, lines, _ = run(capsys, "keys", "create", "--owner", "alice", *where)
        assert code == 0
        code, listed, _ = run(capsys, "keys", "list", *where)
        assert "owner=alice  user  active" in listed[0]
        assert lines[-1] not in "\n".join(listed)
        assert not (tmp_path / "parley.db").exists()
        assert run(capsys, "keys", "revoke", listed[0].split()[0], *where)[0] == 0
        assert "revoked" in run(capsys, "keys", "list", *where)[1][0]
