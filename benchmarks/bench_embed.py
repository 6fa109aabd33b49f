"""Which local embedder, and does chunking keep up with it?

Measures the default ``LocalEmbedder`` (all-MiniLM-L6-v2 int8 on onnxruntime) on this machine:
model load time, texts/s for 400 short texts and for default-size chunks (800 o200k tokens, about
900 WordPiece tokens), with long texts averaged over 256-token windows (the default) and truncated
to the first window; retrieval quality on 30 hand-written query/passage pairs (recall@1, MRR); a
"needle" test where each passage is hidden at a random place in an 800-token chunk of unrelated
prose (what truncation loses); and o200k tokenize+chunk speed, with ingestion's CPU share of
chunking next to embedding. ``--static-model DIR`` also scores a model2vec static model (e.g. the
``tokenlearn-static-model`` wheel's ``static_model/model``) for comparison.

Progress goes to stderr; exactly one JSON line goes to stdout (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import inspect
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from harness import git, machine

from parley.providers.local_embedder import LocalEmbedder
from parley.retrieval.chunking import ChunkingStrategy, chunk_text, count_tokens
from parley.retrieval.tokens import encode, encoding

Json = dict[str, Any]
Embed = Callable[[Sequence[str]], Awaitable[npt.NDArray[np.float32]]]
_PAIRS = """\
How do I reset my password? | To change a forgotten password, click 'Forgot password' on the sign-in page and follow the emailed link.
What is the capital of France? | Paris is the capital and largest city of France, on the river Seine.
symptoms of dehydration | Signs that the body lacks water include thirst, dark urine, dizziness and a dry mouth.
how to bake sourdough bread | Mix starter, flour, water and salt, let the dough rise overnight, then bake it in a hot Dutch oven.
python list comprehension syntax | In Python you can build a list with [expr for item in iterable if condition].
When did World War II end? | The Second World War ended in 1945 with the surrender of Germany in May and Japan in September.
best way to learn a new language | Daily practice with native speakers and spaced-repetition flashcards helps people acquire a foreign tongue.
refund policy for damaged items | If your order arrives broken, contact support within 30 days and we will return your money.
how does photosynthesis work | Plants use sunlight, water and carbon dioxide to produce glucose and oxygen in their chloroplasts.
what causes inflation | Prices rise across the economy when the money supply grows faster than the output of goods and services.
how to tie a tie | Cross the wide end over the narrow end, loop it up through the neck and pull it down through the knot.
fastest land animal | The cheetah can sprint at up to 110 kilometres per hour, faster than any other animal on land.
how to fix a flat bicycle tire | Remove the wheel, find the puncture in the inner tube, patch it or replace the tube, and reinflate.
quarterly revenue growth | Sales for the three months ending in June rose 15% compared with the same period last year.
side effects of ibuprofen | The painkiller can cause stomach upset, heartburn and, rarely, bleeding ulcers.
how many planets in the solar system | Eight planets orbit the Sun: Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus and Neptune.
configure nginx reverse proxy | Add a location block with proxy_pass http://127.0.0.1:8000; to forward requests to the backend server.
who wrote Pride and Prejudice | Jane Austen's novel about Elizabeth Bennet was published in 1813.
how to lower blood pressure | Regular exercise, less salt, limited alcohol and losing weight help reduce hypertension.
what is a black hole | A region of spacetime where gravity is so strong that nothing, not even light, can escape.
employee vacation days | Staff are entitled to 25 days of paid annual leave, plus public holidays.
how to cancel my subscription | You can end your plan at any time from Account settings > Billing > Cancel plan.
the meaning of machine learning | Machine learning lets computers improve at a task by learning patterns from data instead of explicit rules.
why is the sky blue | Air molecules scatter shorter blue wavelengths of sunlight more than red ones (Rayleigh scattering).
tips for better sleep | Keep a regular bedtime, avoid screens and caffeine in the evening, and keep the bedroom dark and cool.
how do vaccines work | A vaccine trains the immune system to recognise a pathogen by exposing it to a harmless piece of it.
git undo last commit | Run git reset --soft HEAD~1 to remove the most recent commit while keeping its changes staged.
shipping time to Canada | Orders to Canadian addresses usually arrive within 5 to 8 business days.
what is the boiling point of water | At sea level, water boils at 100 degrees Celsius (212 degrees Fahrenheit).
how to write a cover letter | Address the hiring manager, explain why you fit the role with one or two examples, and close with a call to action.
"""  # noqa: E501
PAIRS = [(q, a) for q, _, a in (line.partition(" | ") for line in _PAIRS.splitlines())]
_PROSE_MODULES = ["argparse", "asyncio", "collections", "csv", "email", "json", "logging", "os", "pathlib"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prose() -> list[str]:
    """English paragraphs from standard-library docstrings: offline, fixed per Python version."""
    paragraphs: list[str] = []
    for name in _PROSE_MODULES:
        module = importlib.import_module(name)
        for _, member in inspect.getmembers(module):
            for paragraph in (inspect.getdoc(member) or "").split("\n\n"):
                text = " ".join(paragraph.split())
                if len(text) > 200 and not any(c in text for c in "{}<>=`|>>"):
                    paragraphs.append(text)
    return sorted(set(paragraphs))


def chunks_of(paragraphs: list[str], count: int, size: int = 800, seed: int = 1) -> list[str]:
    """``count`` texts of exactly ``size`` o200k tokens cut from shuffled prose."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        ids: list[int] = []
        while len(ids) < size:
            ids += encode(" " + rng.choice(paragraphs))
        out.append(encoding().decode(ids[:size]))
    return out


async def rate(embed: Embed, texts: list[str]) -> float:
    await embed(texts[:4])  # warm
    start = time.perf_counter()
    await embed(texts)
    return len(texts) / (time.perf_counter() - start)


async def quality(embed: Embed, docs: list[str]) -> Json:
    queries = await embed([q for q, _ in PAIRS])
    sims = queries @ (await embed(docs)).T
    ranks = [int((sims[i] > sims[i, i]).sum()) + 1 for i in range(len(PAIRS))]
    return {
        "recall_at_1": round(float(np.mean([r == 1 for r in ranks])), 3),
        "mrr": round(float(np.mean([1 / r for r in ranks])), 3),
    }


def needle_docs(paragraphs: list[str]) -> list[str]:
    """Each answer passage hidden at a random position inside about 800 tokens of unrelated prose."""
    rng = random.Random(7)
    docs = []
    for _, answer in PAIRS:
        parts: list[str] = []
        while count_tokens(" ".join(parts)) < 760:
            parts.append(rng.choice(paragraphs))
        parts.insert(rng.randrange(len(parts) + 1), answer)
        docs.append(" ".join(parts))
    return docs


def chunking(paragraphs: list[str]) -> Json:
    text = "\n\n".join(paragraphs * max(1, 2_000_000 // sum(map(len, paragraphs))))
    tokens = count_tokens(text)
    start = time.perf_counter()
    chunks = chunk_text(text, ChunkingStrategy())
    seconds = time.perf_counter() - start
    return {"document_tokens": tokens, "chunks": len(chunks), "tokens_per_s": round(tokens / seconds)}


async def measure_minilm(paragraphs: list[str], windowed: bool) -> Json:
    embedder = LocalEmbedder(windowed=windowed)
    start = time.perf_counter()
    await embedder.embed(["load"])
    loaded = time.perf_counter() - start
    short = [f"{PAIRS[i % 30][(i // 30) % 2]} ({i})" for i in range(400)]
    long = chunks_of(paragraphs, 48)
    result = {
        "load_s": round(loaded, 2),
        "short_texts_per_s": round(await rate(embedder.embed, short)),
        "chunks_800_per_s": round(await rate(embedder.embed, long), 1),
        "pairs": await quality(embedder.embed, [p for _, p in PAIRS]),
        "needle_in_800_tokens": await quality(embedder.embed, needle_docs(paragraphs)),
    }
    await embedder.aclose()
    return result


async def measure_static(path: str, paragraphs: list[str]) -> Json:
    from model2vec import StaticModel

    start = time.perf_counter()
    model = StaticModel.from_pretrained(path)
    loaded = time.perf_counter() - start

    async def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = np.asarray(model.encode(list(texts)), dtype=np.float32)
        norms: npt.NDArray[np.float32] = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-9)).astype(np.float32)
        return unit

    short = [f"{PAIRS[i % 30][(i // 30) % 2]} ({i})" for i in range(400)]
    return {
        "load_s": round(loaded, 2),
        "dimension": int(model.dim),
        "short_texts_per_s": round(await rate(embed, short)),
        "chunks_800_per_s": round(await rate(embed, chunks_of(paragraphs, 48)), 1),
        "pairs": await quality(embed, [p for _, p in PAIRS]),
        "needle_in_800_tokens": await quality(embed, needle_docs(paragraphs)),
    }


async def main(args: argparse.Namespace) -> Json:
    paragraphs = prose()
    log(f"{len(paragraphs)} prose paragraphs; chunking...")
    report: Json = {"chunking": chunking(paragraphs)}
    for windowed in (True, False):
        log(f"minilm windowed={windowed}...")
        report[f"minilm_{'windowed' if windowed else 'first_window'}"] = await measure_minilm(
            paragraphs, windowed
        )
    if args.static_model:
        log("static model...")
        report["static_model"] = await measure_static(args.static_model, paragraphs)
    # Ingestion CPU: chunking an 800/400 chunk costs (1 / tokens_per_s) per document token; embedding it
    # costs 1 / chunks_per_s per 400 new tokens.
    embed_per_token = 1 / (report["minilm_windowed"]["chunks_800_per_s"] * 400)
    chunk_per_token = 1 / report["chunking"]["tokens_per_s"]
    report["ingest_fraction_of_embedder_throughput"] = round(
        embed_per_token / (embed_per_token + chunk_per_token), 4
    )
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--static-model", help="a model2vec model directory to compare")
    parsed = parser.parse_args()
    results = asyncio.run(main(parsed))
    meta = {"bench": "bench_embed", "commit": git("rev-parse", "--short", "HEAD"), "machine": machine()}
    meta["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    print(json.dumps({**meta, **results}))
