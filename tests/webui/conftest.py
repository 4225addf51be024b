"""Browser fixtures: Debian's chromium (installed by setup_browser.sh when missing) driven by Playwright."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        script = Path(__file__).with_name("setup_browser.sh")
        try:
            r = subprocess.run(
                ["bash", str(script)], capture_output=True, text=True, timeout=900, check=False
            )
            detail = (r.stderr or r.stdout)[-400:]
        except (OSError, subprocess.TimeoutExpired) as exc:
            detail = str(exc)
        if not CHROMIUM.exists():
            _unavailable(f"headless chromium is missing and {script.name} could not install it: {detail}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed (pip install 'genomefactory[dev]')")
    try:
        import gradio  # noqa: F401
    except ImportError:
        _unavailable("gradio is not installed (pip install 'genomefactory[webui]')")
    return CHROMIUM
