"""Screenshots of every tab of the web UI at 1400x900 for the docs (``docs/webui/*.png``).

    python tests/webui/screenshots.py docs/webui  # needs GENOMEFACTORY_SHARED_DATA (the GUE TATA task)

A tiny training run on the real TATA promoter task is run first, so the Train and Runs tabs show a log,
metrics and curves. Not a test: pytest does not collect this file.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from genomefactory.webui.app import launch
from genomefactory.webui.config import WebUIConfig

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
WAIT_MS = 300_000


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = (
        Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", "../shared/data"))
        / "gue"
        / "prom"
        / "prom_core_tata"
    )
    ws = Path(tempfile.mkdtemp()) / "workspace"
    ws.mkdir()
    (ws / "tata").symlink_to(data.resolve())
    served = launch(WebUIConfig(workspace=str(ws), port=0), block=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT_MS)
            page.goto(served.url)
            page.get_by_role("tab", name="Train").click()
            page.locator("#train-model-init").get_by_text("tiny", exact=True).click()
            page.locator("#train-data-path textarea").fill("tata")
            steps = page.locator("#train-training-max_steps textarea")
            if not steps.is_visible():  # unfold the section only when folded (a click would fold it again)
                page.locator("#train-training-section").get_by_text("training", exact=True).first.click()
            steps.wait_for(state="visible")
            print("form", flush=True)
            steps.fill("12")
            page.locator("#train-training-logging_steps input").fill("2")
            page.locator("#train-training-max_steps textarea").press("Tab")
            page.locator("#train-run").click()
            page.wait_for_function(
                "(document.querySelector('#train-status')?.innerText || '').startsWith('finished')",
                polling=500,
            )
            page.locator("#tab-train").get_by_role("tab", name="curves").click()
            time.sleep(2)  # let the plot draw (a picture, not a check)
            page.screenshot(path=str(out / "train.png"))
            print("train.png", flush=True)
            for tab in ("Download", "Process", "Inference", "Benchmark", "Interpret", "Workspace"):
                page.get_by_role("tab", name=tab, exact=True).click()
                print(tab, flush=True)
                if tab == "Workspace":
                    page.locator("#data-pick input").click()
                    page.get_by_role("option", name="tata/", exact=True).click()
                    page.wait_for_function(
                        "(document.querySelector('#data-info')?.innerText || '').includes('classes')",
                        polling=500,
                    )
                time.sleep(1)
                page.screenshot(path=str(out / f"{tab.lower()}.png"))
                print(f"{tab.lower()}.png", flush=True)
            page.get_by_role("tab", name="Runs", exact=True).click()
            page.locator("#runs-pick input").click()
            page.get_by_role("option").first.click()
            page.wait_for_function(
                "(document.querySelector('#runs-status')?.innerText || '').startsWith('finished')",
                polling=500,
            )
            page.locator("#runs-try-input textarea").fill(
                "TATAAAAGGCCGCGCTATAAAAGGCCGCGC\nGGGCCCGGGCCCGGGCCCGGGCCCGGGCCC"
            )
            page.locator("#runs-try-run").click()
            page.wait_for_function(
                "(document.querySelector('#runs-try-table')?.innerText || '').includes('seq2')", polling=500
            )
            page.screenshot(path=str(out / "runs.png"))
            browser.close()
    finally:
        served.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/webui"))
