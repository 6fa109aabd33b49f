"""A benchmark run the way its smoke test runs it: ``--quick``, as a script, one JSON line out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

BENCHMARKS = Path(__file__).resolve().parent.parent.parent / "benchmarks"


def quick_report(script: str, *flags: str, timeout: float = 120) -> dict[str, Any]:
    """The report ``benchmarks/<script> --quick`` prints, after checking it exited 0 with one line."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr[-4000:]
    assert len(lines) == 1, done.stdout
    report: dict[str, Any] = orjson.loads(lines[0])
    assert report["benchmark"] == script.removesuffix(".py")
    return report
