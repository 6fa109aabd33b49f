"""A real browser for the UI tests: Debian's Chromium, driven headless by Playwright (whose own
browser download cannot work offline; ``executable_path`` points it at this one instead).

Missing, it is installed when the tests run as root, as CI does (``apt-get install chromium``);
elsewhere the UI tests are skipped, saying how to get it. In CI they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import Page

NAMES = ("chromium", "chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def _found() -> str | None:
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def _install() -> None:
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "check": False, "timeout": 900}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, **quiet).returncode != 0:  # type: ignore[call-overload]
        subprocess.run(["apt-get", "update", "-q"], env=env, **quiet)  # type: ignore[call-overload]
        subprocess.run(install, env=env, **quiet)  # type: ignore[call-overload]


def chromium() -> str:
    """The path of a Chromium to drive; installs it (as root) or skips (outside CI) when missing."""
    found = _found()
    if found is None and os.geteuid() == 0:
        _install()
        found = _found()
    if found is not None:
        return found
    if os.environ.get("CI"):
        pytest.fail(
            "Chromium is needed for the UI tests and could not be installed (apt-get install chromium)"
        )
    pytest.skip("UI tests need Chromium: run `apt-get install chromium` as root (CI installs it itself)")


async def snapshot(page: Page, name: str) -> None:
    """The page as it looks now, kept as a test artifact (``test-artifacts/ui/<name>.png``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
