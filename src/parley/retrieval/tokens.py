"""OpenAI's ``o200k_base`` tokenizer, loaded offline from a vendored rank file.

Chunk sizes in the Vector Stores API are counted in OpenAI's tokens, so Parley
counts with the same BPE (``o200k_base``, the GPT-4o/GPT-5 family). ``tiktoken``
does the encoding, but its own registry downloads rank files at run time; here
the ``Encoding`` is built directly from ``parley/providers/data/o200k_base.tiktoken.gz``
(see the README there), so nothing is ever fetched. The file is read once, on
first use (about 0.4 s), and shared by every thread: tiktoken's encoder is
thread-safe and releases the GIL.
"""

from __future__ import annotations

import base64
import functools
import gzip
import threading
from importlib.resources import files
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # imported when the encoding is first built
    import tiktoken

_RANKS = "o200k_base.tiktoken.gz"
# tiktoken_ext/openai_public.py: o200k_base's pre-tokenizer pattern and special tokens.
_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECIAL = {"<|endoftext|>": 199_999, "<|endofprompt|>": 200_018}
_LOADING = threading.Lock()


def rank_file_bytes() -> bytes:
    """The uncompressed rank file, exactly as OpenAI publishes it (its sha256 is pinned in a test)."""
    return gzip.decompress(files("parley.providers").joinpath("data", _RANKS).read_bytes())


def _ranks() -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in rank_file_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def _load() -> tuple[tiktoken.Encoding, npt.NDArray[np.int64]]:
    import tiktoken

    ranks = _ranks()
    lengths = np.zeros(max(ranks.values()) + 1, dtype=np.int64)
    for token, rank in ranks.items():
        lengths[rank] = len(token)
    encoding = tiktoken.Encoding(
        "o200k_base", pat_str=_PATTERN, mergeable_ranks=ranks, special_tokens=_SPECIAL
    )
    return encoding, lengths


def _loaded() -> tuple[tiktoken.Encoding, npt.NDArray[np.int64]]:
    with _LOADING:  # ingestion chunks in several threads: the first callers must not each load
        return _load()


def encoding() -> tiktoken.Encoding:
    """The shared ``o200k_base`` encoding, built on first use."""
    return _loaded()[0]


def token_byte_lengths() -> npt.NDArray[np.int64]:
    """Byte length of every token id, so token boundaries map to byte offsets without decoding."""
    return _loaded()[1]


def encode(text: str) -> list[int]:
    """Token ids of ``text``; special-token spellings in a document are ordinary text."""
    return encoding().encode_ordinary(text)


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))
