"""The web UI in a real browser (headless Chromium driven by Playwright), one server and browser per module.

Train: fill the form for a tiny model on a real GUE task, watch the log stream while it runs and the metrics appear
at the end; a path outside the workspace is refused. Inference (embed) on real sequences: log, then the output
links. Benchmark: a one-cell custom-suite sweep (subsampled GUE task): progress and the aggregate table. The
equivalent YAML and CLI line follow a changed field. Stop ends a running job and its process.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from genomefactory.config import parse_overrides
from genomefactory.webui.config import WebUIConfig
from genomefactory.webui.runner import Run

from .conftest import ARGS

ROOT = Path(__file__).resolve().parents[2]
TATA = Path("gue") / "prom" / "prom_core_tata"
pytestmark = pytest.mark.browser


WAIT_MS = 120_000  # generous: every wait is on a condition, so a loaded machine only makes it slower
RUN_LIMIT_S = 400


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Any]:
    from genomefactory.webui.app import launch

    ws = tmp_path_factory.mktemp("webui") / "ws"
    ws.mkdir()
    tata = shared_data / TATA
    (ws / "tata").symlink_to(tata)  # the owner exposes a dataset
    task = ws / "tasks" / "tata"  # a custom benchmark suite: a real folder holding one task folder
    task.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (task / f"{split}.csv").symlink_to(tata / f"{split}.csv")
    (ws / "seqs.csv").symlink_to(tata / "train.csv")  # 4904 real 70 bp sequences: a few seconds to embed
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")  # inherited by the CLI subprocesses
        served = launch(WebUIConfig(workspace=str(ws), port=0), block=False)
        yield served.url, ws, served.manager
        served.close()


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: Any) -> Iterator[Any]:
    pg = browser.new_page(viewport={"width": 1280, "height": 1800})
    pg.set_default_timeout(WAIT_MS)  # clicks and fills wait for their element as long as the other waits
    pg.goto(server[0])
    yield pg
    pg.close()


def _text(page: Any, sel: str) -> str:
    return str(page.locator(sel).inner_text()).strip()


def _log(page: Any, command: str) -> str:
    return str(page.locator(f"#{command}-log textarea").input_value())


def _wait_for(page: Any, sel: str, needle: str, timeout_ms: int = WAIT_MS) -> None:
    # interval polling: requestAnimationFrame polling (the default) can stall in a headless page
    page.wait_for_function(
        "([s, n]) => (document.querySelector(s)?.innerText || '').includes(n)",
        arg=[sel, needle],
        timeout=timeout_ms,
        polling=200,
    )


def _watch(
    page: Any, command: str, while_running: Callable[[str, str], bool], limit_s: float = RUN_LIMIT_S
) -> tuple[bool, str]:
    """Poll the page until the run ends: (whether ``while_running(status, log)`` held while it ran, last status)."""
    seen = False
    deadline = time.time() + limit_s
    status = ""
    while time.time() < deadline:
        status = _text(page, f"#{command}-status")
        if status.startswith("running") and while_running(status, _log(page, command)):
            seen = True
        if any(w in status.split()[:1] for w in ("finished", "failed", "stopped")):
            break
        time.sleep(0.3)
    return seen, status


def _new_run(manager: Any, before: set[str]) -> Run:
    (run_id,) = set(manager.runs) - before
    run: Run = manager.runs[run_id]
    return run


def _artifact(name: str) -> Path:
    out = ROOT / ".test_artifacts"
    out.mkdir(exist_ok=True)
    return out / name


def test_train_tab_streams_log_and_shows_metrics(server: Any, page: Any) -> None:
    url, ws, manager = server
    assert url.startswith("http://127.0.0.1:")
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-model-init").get_by_text("tiny", exact=True).click()
    page.locator("#train-training-max_steps textarea").fill("6")
    page.locator("#train-training-logging_steps input").fill("1")
    page.locator("#train-output_dir textarea").fill("runs/browser")

    # a path outside the workspace is refused before anything runs
    before = set(manager.runs)
    page.locator("#train-data-path textarea").fill("/etc")
    page.locator("#train-run").click()
    _wait_for(page, "#train-status", "outside the workspace")
    assert set(manager.runs) == before
    page.locator("#train-data-path textarea").fill("tata")
    page.locator("#train-output_dir textarea").fill("tata/run")  # into the linked dataset: refused
    page.locator("#train-run").click()
    _wait_for(page, "#train-status", "a linked folder is for reading")
    page.locator("#train-output_dir textarea").fill("x" * 100_000)  # bounded: refused, not echoed
    page.locator("#train-run").click()
    _wait_for(page, "#train-status", "at most 4,096")
    assert set(manager.runs) == before and "x" * 5000 not in _text(page, "#train-status")
    page.locator("#train-output_dir textarea").fill("runs/browser")

    page.locator("#train-data-path textarea").fill("tata")
    page.locator("#train-data-path textarea").press("Tab")
    page.locator("#train-run").click()
    seen_log, status = _watch(page, "train", lambda s, log: "model nucleotide_transformer" in log)
    page.screenshot(path=str(_artifact("webui-train.png")), full_page=True)
    assert seen_log, "no log line arrived while the run was running"
    assert status.startswith("finished"), _log(page, "train")[-2000:]
    _wait_for(page, "#train-metrics", "test.mcc")
    run = _new_run(manager, before)
    yaml_text = run.config_path.read_text()  # the UI's files stay in its state folder
    assert "init: tiny" in yaml_text and "path: tata" in yaml_text
    assert not (ws / "runs" / "browser" / "config.yaml").exists()
    assert run.returncode == 0 and (ws / "runs" / "browser" / "metrics.json").is_file()
    log = _log(page, "train")
    assert len(re.findall(r"\| 6/6 \[", log)) <= 4, log  # a redrawn bar is one line, not one per update
    assert "100%" in _text(page, "#train-progress")
    page.wait_for_function(  # the log box follows its tail
        "(t => t.scrollHeight - t.scrollTop - t.clientHeight < 40)(document.querySelector('#train-log textarea'))",
        timeout=WAIT_MS,
        polling=200,
    )


def test_equivalent_yaml_and_cli_follow_the_form(page: Any) -> None:
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-equivalent").get_by_text("Equivalent YAML", exact=False).first.click()
    page.locator("#train-training-max_steps textarea").fill("17")
    page.locator("#train-data-path textarea").fill("my data/tata")
    page.locator("#train-data-path textarea").press("Tab")
    page.wait_for_function(
        "(v => v.includes('max_steps: 17') && v.includes('path: my data/tata'))"
        "(document.querySelector('#train-yaml textarea').value)",
        timeout=WAIT_MS,
        polling=200,
    )
    page.wait_for_function(
        "(v => v.includes('max_steps=17') && v.includes('my data/tata'))"
        "(document.querySelector('#train-cli textarea').value)",
        timeout=WAIT_MS,
        polling=200,
    )
    shown = yaml.safe_load(page.locator("#train-yaml textarea").input_value())
    assert shown["training"]["max_steps"] == 17 and shown["data"]["path"] == "my data/tata"
    cli = shlex.split(page.locator("#train-cli textarea").input_value())
    assert cli[:2] == ["genomefactory-cli", "train"]
    assert parse_overrides(cli[2:]) == shown  # the CLI line is the same config as the YAML


def test_inference_embed_shows_log_and_outputs(server: Any, page: Any) -> None:
    _, ws, manager = server
    page.get_by_role("tab", name="Inference").click()
    assert page.locator("#inference-mode").get_by_label("embed").is_checked()
    page.locator("#inference-model-init").get_by_text("tiny", exact=True).click()
    page.locator("#inference-embed-input textarea").fill("seqs.csv")
    page.locator("#inference-embed-output textarea").fill("emb/embeddings.parquet")
    page.locator("#inference-embed-batch_size input").fill("2")  # small batches: progress lines over seconds
    page.locator("#inference-embed-chunk_size input").fill("64")
    page.locator("#inference-embed-chunk_size input").press("Tab")
    before = set(manager.runs)
    page.locator("#inference-run").click()
    seen_log, status = _watch(
        page, "inference", lambda s, log: re.search(r"embedding: [1-9]\d*seq", log) is not None
    )
    page.screenshot(path=str(_artifact("webui-inference.png")), full_page=True)
    link = page.locator('#inference-files a[download="embeddings.parquet"]')
    link.wait_for(timeout=WAIT_MS)
    assert seen_log, "no log line arrived while the run was running"
    assert status.startswith("finished"), _log(page, "inference")[-2000:]
    assert "embedded 4904 sequences" in _log(page, "inference")
    out = ws / "emb" / "embeddings.parquet"
    assert out.is_file() and out.stat().st_size > 0
    assert (
        page.request.get(link.get_attribute("href")).body() == out.read_bytes()
    )  # the link serves the output
    assert _new_run(manager, before).returncode == 0


def test_benchmark_sweep_shows_progress_and_aggregate(server: Any, page: Any) -> None:
    _, ws, manager = server
    page.get_by_role("tab", name="Benchmark").click()
    fields = {
        "suites": "[{name: custom, path: tasks, max_rows_per_split: 40}]",
        "models": "[{family: nucleotide_transformer, init: tiny, label: tinynt}]",
        "methods": "[lora]",
        "seeds": "[42]",
        "training-max_steps": "4",
        "output_dir": "runs/bench",
    }
    for key, value in fields.items():
        page.locator(f"#benchmark-{key} textarea").fill(value)
    page.locator("#benchmark-output_dir textarea").press("Tab")
    before = set(manager.runs)
    page.locator("#benchmark-run").click()
    seen_log, status = _watch(page, "benchmark", lambda s, log: "benchmark: 1 cells" in log)
    page.screenshot(path=str(_artifact("webui-benchmark.png")), full_page=True)
    assert seen_log, "the sweep's plan line did not arrive while it ran"
    assert status.startswith("finished"), _log(page, "benchmark")[-2000:]
    assert "[1/1] custom/tata tinynt lora seed=42: ok" in _log(page, "benchmark")
    assert "100%" in _text(page, "#benchmark-progress")
    _wait_for(page, "#benchmark-metrics", "custom | tinynt | lora")
    metrics = _text(page, "#benchmark-metrics")
    assert "custom/tata | tinynt | lora | mcc" in metrics and "(n=1)" in metrics
    out = ws / "runs" / "bench"
    assert (out / "aggregate.json").is_file() and (out / "report.md").is_file()
    assert _new_run(manager, before).returncode == 0


def test_stop_ends_a_running_job(server: Any, page: Any) -> None:
    _, ws, manager = server
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-model-init").get_by_text("tiny", exact=True).click()
    page.locator("#train-training-max_steps textarea").fill("100000")
    page.locator("#train-output_dir textarea").fill("runs/stopped")
    page.locator("#train-data-path textarea").fill("tata")
    page.locator("#train-data-path textarea").press("Tab")
    before = set(manager.runs)
    page.locator("#train-run").click()
    page.wait_for_function(
        "document.querySelector('#train-log textarea').value.includes('model nucleotide')",
        timeout=WAIT_MS,
        polling=200,
    )  # the job is at work
    assert _text(page, "#train-status").startswith("running")
    run = _new_run(manager, before)
    assert run.proc is not None
    pid = run.proc.pid
    page.locator("#train-stop").click()
    _, status = _watch(page, "train", lambda s, log: True)
    page.screenshot(path=str(_artifact("webui-stop.png")), full_page=True)
    assert status.startswith("stopped"), status
    assert run.status == "stopped" and run.returncode is not None and run.returncode != 0
    with pytest.raises(ProcessLookupError):  # neither the CLI process nor anything of its group is left
        os.killpg(pid, 0)
    assert not (ws / "runs" / "stopped" / "metrics.json").exists()
