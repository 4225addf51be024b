"""The web UI in a real browser: fill the Train tab for a tiny model on a real GUE task, watch the log stream
while it runs and the metrics appear at the end; a path outside the workspace is refused."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from genomefactory.webui.config import WebUIConfig

from .conftest import ARGS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from genomefactory.webui.app import launch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tata").symlink_to(shared_data / "gue" / "prom" / "prom_core_tata")  # the owner exposes a dataset
    demo, manager, url = launch(WebUIConfig(workspace=str(ws), port=_free_port()), block=False)
    yield url, ws, manager
    for run in manager.runs.values():
        manager.stop(run.id)
    demo.close()


def _text(page: Any, sel: str) -> str:
    return str(page.locator(sel).inner_text())


def test_train_tab_streams_log_and_shows_metrics(server: Any, chromium_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, ws, manager = server
    assert url.startswith("http://127.0.0.1:")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium_path), headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(url)
        page.get_by_role("tab", name="Train").click()
        page.locator("#train-model-init").get_by_text("tiny", exact=True).click()
        page.locator("#train-training-max_steps textarea").fill("6")
        page.locator("#train-training-logging_steps input").fill("1")
        page.locator("#train-output_dir textarea").fill("runs/browser")

        # a path outside the workspace is refused before anything runs
        page.locator("#train-data-path textarea").fill("/etc")
        page.locator("#train-run").click()
        page.wait_for_function("document.querySelector('#train-status').innerText.includes('outside the workspace')",
                               timeout=15_000)  # fmt: skip
        assert not manager.runs

        page.locator("#train-data-path textarea").fill("tata")
        page.locator("#train-data-path textarea").press("Tab")
        page.locator("#train-run").click()
        seen_running_log = False
        deadline = time.time() + 80
        while time.time() < deadline:
            status = _text(page, "#train-status")
            log = page.locator("#train-log textarea").input_value()
            if "running" in status and "model nucleotide_transformer" in log:
                seen_running_log = True
            if "finished" in status or "failed" in status:
                break
            time.sleep(0.3)
        status = _text(page, "#train-status")
        page.screenshot(path=str(_artifact("webui.png")), full_page=True)
        assert seen_running_log, "no log line arrived while the run was running"
        assert "finished" in status, page.locator("#train-log textarea").input_value()[-2000:]
        page.wait_for_function("document.querySelector('#train-metrics').innerText.includes('test.mcc')",
                               timeout=15_000)  # fmt: skip
        yaml_text = (ws / "runs" / "browser" / "config.yaml").read_text()
        assert "init: tiny" in yaml_text and "path: tata" in yaml_text
        browser.close()
    (run,) = manager.runs.values()
    assert run.returncode == 0 and (ws / "runs" / "browser" / "metrics.json").is_file()


def _artifact(name: str) -> Path:
    out = ROOT / ".test_artifacts"
    out.mkdir(exist_ok=True)
    return out / name
