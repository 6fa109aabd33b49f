"""What a server loads at start-up: the openai SDK only once ``/openapi.json`` is asked for.

Its ~600 modules would otherwise sit in every garbage collection of a server that never serves
the document (measured in ``benchmarks/bench_overhead.py``: about a fifth of a response's CPU at 64
concurrent), so this is checked structurally rather than by a timed test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys, pathlib
from parley.app import create_app
from parley.config import Settings
create_app(Settings(data_dir=pathlib.Path(sys.argv[1])))
print(sorted({m.split('.')[0] for m in sys.modules} & {"openai", "jsonschema", "schemathesis"}))
"""


def test_a_built_app_has_not_loaded_the_openai_sdk(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
