"""Object ids: one function, the prefixes of DESIGN.md."""

from __future__ import annotations

import secrets
from typing import Literal

Prefix = Literal[
    "resp",
    "msg",
    "fc",
    "fco",
    "ctc",
    "ctco",
    "tso",
    "rs",
    "fs",
    "ws",
    "mcp",
    "conv",
    "vs",
    "vsfb",
    "file",
    "call",
    "tsc",
    "pmpt",
    "cmp",
    "cmpt",
    "key",
]


def new_id(prefix: Prefix) -> str:
    """A random id such as ``resp_3f9c...``; files use OpenAI's ``file-`` dash."""
    sep = "-" if prefix == "file" else "_"
    return f"{prefix}{sep}{secrets.token_hex(24)}"
