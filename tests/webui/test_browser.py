"""The web UI in a real browser (headless Chromium driven by Playwright), one server and browser per module.

Train: fill the form for a tiny model on a real GUE task, watch the log stream while it runs and the metrics appear
at the end; a path outside the workspace is refused. Inference (embed) on real sequences: log, then the output
links. Benchmark: a one-cell custom-suite sweep (subsampled GUE task): progress and the aggregate table. The
equivalent YAML and CLI line follow a changed field; Save downloads it, Load uploads it back through the button.
Stop ends a running job and its process.
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


def _field(page: Any, command: str, key: str, widget: str = "textarea") -> Any:
    """The input of a form field, unfolding its section first (advanced sections start folded)."""
    loc = page.locator(f"#{command}-{key.replace('.', '-')} {widget}".rstrip())
    if "." in key and not loc.is_visible():
        section = key.rsplit(".", 1)[0]
        head = page.locator(f"#{command}-{section.replace('.', '-')}-section")
        head.get_by_text(section, exact=True).first.click()
    loc.wait_for(state="visible")
    return loc


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
    _field(page, "train", "training.max_steps", "textarea").fill("6")
    _field(page, "train", "training.logging_steps", "input").fill("1")
    page.locator("#train-output_dir textarea").fill("runs/browser")

    # a path outside the workspace is refused before anything runs
    before = set(manager.runs)
    _field(page, "train", "data.path", "textarea").fill("/etc")
    page.locator("#train-run").click()
    _wait_for(page, "#train-status", "outside the workspace")
    assert set(manager.runs) == before
    _field(page, "train", "data.path", "textarea").fill("tata")
    page.locator("#train-output_dir textarea").fill("tata/run")  # into the linked dataset: refused
    page.locator("#train-run").click()
    _wait_for(page, "#train-status", "a linked folder is for reading")
    page.locator("#train-output_dir textarea").fill("x" * 100_000)  # bounded: refused, not echoed
    page.locator("#train-run").click()
    _wait_for(page, "#train-status", "at most 4,096")
    assert set(manager.runs) == before and "x" * 5000 not in _text(page, "#train-status")
    page.locator("#train-output_dir textarea").fill("runs/browser")

    _field(page, "train", "data.path", "textarea").fill("tata")
    _field(page, "train", "data.path", "textarea").press("Tab")
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
    page.locator("#train-equivalent").get_by_text("YAML, command line", exact=False).first.click()
    _field(page, "train", "training.max_steps", "textarea").fill("17")
    _field(page, "train", "data.path", "textarea").fill("my data/tata")
    _field(page, "train", "data.path", "textarea").press("Tab")
    try:
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
    except Exception:
        page.screenshot(path=str(_artifact("webui-equivalent-failed.png")), full_page=True)
        raise AssertionError(
            page.locator("#train-yaml textarea").input_value()
            + " | "
            + page.locator("#train-cli textarea").input_value()
        ) from None
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
    _field(page, "inference", "embed.input", "textarea").fill("seqs.csv")
    _field(page, "inference", "embed.output", "textarea").fill("emb/embeddings.parquet")
    _field(page, "inference", "embed.batch_size", "input").fill(
        "2"
    )  # small batches: progress lines over seconds
    _field(page, "inference", "embed.chunk_size", "input").fill("64")
    _field(page, "inference", "embed.chunk_size", "input").press("Tab")
    before = set(manager.runs)
    page.locator("#inference-run").click()
    seen_log, status = _watch(
        page, "inference", lambda s, log: re.search(r"embedding: [1-9]\d*seq", log) is not None
    )
    page.screenshot(path=str(_artifact("webui-inference.png")), full_page=True)
    page.locator("#tab-inference").get_by_role("tab", name="files").click()
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
        _field(page, "benchmark", key.replace("-", "."), "textarea").fill(value)
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
    _field(page, "train", "training.max_steps", "textarea").fill("100000")
    page.locator("#train-output_dir textarea").fill("runs/stopped")
    _field(page, "train", "data.path", "textarea").fill("tata")
    _field(page, "train", "data.path", "textarea").press("Tab")
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


def test_sigterm_to_the_cli_server_stops_its_runs(browser: Any, tmp_path: Path, shared_data: Path) -> None:
    """`timeout`, systemd and schedulers send SIGTERM: the server ends quietly and its running job with it."""
    import json
    import signal
    import subprocess
    import sys

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tata").symlink_to(shared_data / TATA)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "genomefactory", "webui", f"workspace={ws}", "port=0"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert server.stdout is not None
    try:
        first = server.stdout.readline()  # blocks until the server prints its address (or exits)
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", first)
        assert m, first + server.stdout.read()
        pg = browser.new_page(viewport={"width": 1280, "height": 1800})
        pg.set_default_timeout(WAIT_MS)
        pg.goto(m.group(1))
        pg.get_by_role("tab", name="Train").click()
        pg.locator("#train-model-init").get_by_text("tiny", exact=True).click()
        _field(pg, "train", "training.max_steps", "textarea").fill("100000")
        _field(pg, "train", "data.path", "textarea").fill("tata")
        _field(pg, "train", "data.path", "textarea").press("Tab")
        pg.locator("#train-run").click()
        _wait_for(pg, "#train-status", "running")
        (state,) = (ws / "webui_runs").glob("*/run.json")
        deadline = time.time() + RUN_LIMIT_S
        while (pid := json.loads(state.read_text())["pid"]) is None and time.time() < deadline:
            time.sleep(0.1)  # run.json is rewritten just after the status turns to running
        assert pid is not None
        pg.close()
        server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate(timeout=RUN_LIMIT_S)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0 and rest.strip() == "stopped 1 run(s) started from the web UI", rest
    deadline = time.time() + RUN_LIMIT_S
    while time.time() < deadline:  # the job's whole process group goes (it may be saving a checkpoint)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert json.loads(state.read_text())["status"] == "stopped"


def test_family_and_variant_are_dropdowns_of_the_registry(page: Any) -> None:
    from genomefactory.models.registry import family_names, variant_names

    page.get_by_role("tab", name="Train").click()
    family = page.locator("#train-model-family input")
    family.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    shown = {o.strip() for o in options.all_inner_texts()}
    assert set(family_names()) <= shown
    fam = "hyenadna" if "hyenadna" in family_names() else family_names()[0]
    page.get_by_role("option", name=fam, exact=True).click()
    variant = page.locator("#train-model-variant input")
    deadline = time.time() + RUN_LIMIT_S
    wanted = set(variant_names(fam))
    while time.time() < deadline:  # the variants follow the family once the server answered
        variant.click()
        names = {o.strip() for o in page.get_by_role("option").all_inner_texts()}
        page.keyboard.press("Escape")
        if wanted <= names:
            break
        time.sleep(0.5)
    assert wanted <= names, names


def test_workspace_tab_previews_a_dataset(page: Any) -> None:
    page.get_by_role("tab", name="Workspace").click()
    page.locator("#data-pick input").click()
    page.get_by_role("option", name="tata/", exact=True).click()  # the linked dataset is listed
    _wait_for(page, "#data-info", "classes")
    info = _text(page, "#data-info")
    assert "train" in info and "length 70–70" in info and "sequences" in info
    assert re.search(r"[ACGT]{20}", _text(page, "#data-head"))


def _open_equivalent(page: Any, command: str) -> None:
    acc = page.locator(f"#{command}-equivalent")
    if not page.locator(f"#{command}-yaml textarea").is_visible():
        acc.get_by_text("YAML, command line", exact=False).first.click()
    page.locator(f"#{command}-yaml textarea").wait_for(state="visible")


def _download_until(page: Any, button: str, wanted: str, dest: Path) -> str:
    """Click Save until the downloaded file holds ``wanted`` (the file follows the YAML box one event later).

    The button holds a file from the start, so every click downloads something; only its content can lag.
    """
    deadline = time.time() + RUN_LIMIT_S
    text = ""
    while wanted not in text and time.time() < deadline:
        with page.expect_download() as dl:
            page.locator(button).click()
        dl.value.save_as(dest)
        text = dest.read_text()
    return text


def test_save_and_reset_the_form(page: Any, tmp_path: Path) -> None:
    page.get_by_role("tab", name="Train").click()
    _open_equivalent(page, "train")
    untouched = _download_until(page, "#train-save", "", tmp_path / "defaults.yaml")  # before any edit
    assert yaml.safe_load(untouched) in (None, {})
    _field(page, "train", "training.max_steps").fill("17")
    _field(page, "train", "training.max_steps").press("Tab")
    page.wait_for_function(
        "document.querySelector('#train-yaml textarea').value.includes('max_steps: 17')", polling=200
    )
    text = _download_until(page, "#train-save", "max_steps: 17", tmp_path / "saved.yaml")
    assert yaml.safe_load(text) == {"training": {"max_steps": 17}}
    page.locator("#train-reset").click()
    page.wait_for_function(
        "document.querySelector('#train-training-max_steps textarea').value === ''", polling=200
    )


def _upload(page: Any, button: str, path: Path) -> None:
    """Pick a file through the button's own chooser (its hidden input is a sibling, not inside the button)."""
    with page.expect_file_chooser() as chooser:
        page.locator(button).click()
    chooser.value.set_files(str(path))


def test_load_uploads_a_yaml_into_the_form(page: Any, tmp_path: Path) -> None:
    saved = tmp_path / "mine.yaml"
    saved.write_text("training:\n  max_steps: 23\n  learning_rate: 0.0003\n")
    page.get_by_role("tab", name="Train").click()
    _open_equivalent(page, "train")
    _upload(page, "#train-load", saved)
    _wait_for(page, "#train-status", "loaded")
    assert "mine.yaml" in _text(page, "#train-status")
    page.wait_for_function(
        "document.querySelector('#train-yaml textarea').value.includes('max_steps: 23')", polling=200
    )
    assert yaml.safe_load(page.locator("#train-yaml textarea").input_value())["training"] == {
        "max_steps": 23,
        "learning_rate": 0.0003,
    }
    bad = tmp_path / "typo.yaml"
    bad.write_text("training:\n  max_stepz: 5\n")
    _upload(page, "#train-load", bad)
    _wait_for(page, "#train-status", "not loaded")
    assert "training.max_stepz" in _text(page, "#train-status")


def test_api_key_is_a_password_never_in_yaml_or_cli(page: Any) -> None:
    page.get_by_role("tab", name="Download").click()
    key = page.locator("#download-api_key input")
    assert key.get_attribute("type") == "password"
    page.locator("#download-equivalent").get_by_text("YAML, command line", exact=False).first.click()
    key.fill("SECRET-KEY-123")
    page.locator("#download-output_dir textarea").fill("dl")
    page.locator("#download-output_dir textarea").press("Tab")
    page.wait_for_function(
        "document.querySelector('#download-yaml textarea').value.includes('dl')", polling=200
    )
    assert "SECRET" not in page.locator("#download-yaml textarea").input_value()
    assert "SECRET" not in page.locator("#download-cli textarea").input_value()


def test_runs_tab_reattaches_after_reload_shows_curves_and_tries_the_model(server: Any, page: Any) -> None:
    """Runs of this module's earlier tests: pick the finished training run in a fresh page (a reload)."""
    _, _ws, manager = server
    trained = [r for r in manager.runs.values() if r.command == "train" and r.status == "finished"]
    if not trained:
        pytest.skip("needs the finished training run of test_train_tab_streams_log_and_shows_metrics")
    run = trained[0]
    page.reload()
    page.get_by_role("tab", name="Runs").click()
    page.locator("#runs-pick input").click()
    page.get_by_role("option", name=run.id, exact=True).click()
    _wait_for(page, "#runs-status", "finished")
    _wait_for(page, "#runs-metrics", "test.mcc")
    assert "model nucleotide_transformer" in _log(page, "runs")
    page.locator("#tab-runs").get_by_role("tab", name="curves").click()
    page.locator("#runs-curve canvas, #runs-curve svg").first.wait_for()
    page.locator("#runs-try-input textarea").fill(
        "ACGTACGTAAGGCCTTACGTACGTAAGG\nTTTTAAAACCCCGGGGTTTTAAAACCCC"
    )
    before = set(manager.runs)
    page.locator("#runs-try-run").click()
    _wait_for(page, "#runs-try-table", "seq2")
    tried = _new_run(manager, before)
    assert tried.command == "inference" and tried.returncode == 0


def test_runs_tab_resumes_a_stopped_run(server: Any, page: Any) -> None:
    _, _ws, manager = server
    stopped = [r for r in manager.runs.values() if r.command == "train" and r.status == "stopped"]
    if not stopped:
        pytest.skip("needs the stopped run of test_stop_ends_a_running_job")
    page.get_by_role("tab", name="Runs").click()
    page.locator("#runs-pick input").click()
    page.get_by_role("option", name=stopped[0].id, exact=True).click()
    _wait_for(page, "#runs-status", "stopped")
    before = set(manager.runs)
    page.locator("#runs-resume").click()
    _wait_for(page, "#runs-status", "running")
    new = _new_run(manager, before)
    assert "resume: true" in new.config_path.read_text()
    page.locator("#runs-stop").click()
    _wait_for(page, "#runs-status", "stopped")
