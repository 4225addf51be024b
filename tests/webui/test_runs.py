"""The web UI's runs without a browser: console and progress, declared outputs and results, the UI state folder,
field bounds, real-path confinement, and a server that stops its runs however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from genomefactory.cli import available_commands
from genomefactory.commands import load_ref
from genomefactory.config import StrictConfig, validate_dict
from genomefactory.infer.config import InferenceConfig
from genomefactory.interpret.config import SAERegressionConfig, SAETrainConfig
from genomefactory.train.config import TrainConfig
from genomefactory.webui.forms import MAX_FIELD_CHARS, PathError, build_data, check_paths, form_fields
from genomefactory.webui.progress import Console, Progress
from genomefactory.webui.results import results_of
from genomefactory.webui.runner import STATE_DIR, RunManager

LIMIT_S = 120  # generous: conditions are waited for, never timed


def _wait(cond: object, what: str, limit: float = LIMIT_S) -> None:
    deadline = time.monotonic() + limit
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {limit:.0f} s for {what}")
        time.sleep(0.05)


def _console(text: str) -> tuple[list[str], list[str]]:
    final: list[str] = []
    c = Console(lambda _: None, final.append, keep=1000)
    for i in range(0, len(text), 7):  # chunks split anywhere, CRLF pairs included
        c.feed(text[i : i + 7])
    c.close()
    return c.lines, final


def test_console_shows_a_redrawn_bar_as_one_line() -> None:
    bar = "".join(f"\r{p:3d}%|#| {k}/4 [00:0{k}<00:01]" for k, p in ((0, 0), (1, 25), (2, 50), (4, 100)))
    text = "start\n" + bar + "\n" + "{'loss': 0.5}\r\n" + "tail without newline"
    lines, final = _console(text)
    assert lines == ["start", "100%|#| 4/4 [00:04<00:01]", "{'loss': 0.5}", "tail without newline"]
    assert final == lines  # run.log gets the same lines, each once


def test_progress_follows_the_commands_steps_and_never_goes_back() -> None:
    now = [0.0]
    p = Progress(clock=lambda: now[0])
    p.feed("  0%|          | 0/6 [00:00<?, ?it/s]")  # the trainer's bar: the first with a total
    now[0] = 10.0
    p.feed(" 50%|#####     | 3/6 [00:01<00:01]")
    assert p.fraction == 0.5 and p.eta_s() == pytest.approx(10.0)
    p.feed(" 10%|#         | 1/10 [00:00<00:01]")  # an evaluation bar takes over the console
    assert p.fraction == 0.5
    p.feed(" 33%|###       | 2/6 [00:01<00:01]")  # a redraw that lags behind
    assert p.fraction == 0.5
    p.feed("100%|##########| 6/6 [00:02<00:00]")
    assert p.fraction == 1.0 and p.eta_s() is None and "100%" in p.html()

    sweep = Progress()
    sweep.feed("benchmark: 4 cells")
    sweep.feed(" 50%|#####     | 2/4 [00:01<00:01]")  # cell 1's training
    sweep.feed("[1/4] custom/a tiny lora seed=1: ok")
    assert sweep.fraction == 0.5  # monotonic: (0 + 0.5) / 4 came first, then 1/4 < 0.5 would go back
    sweep.feed("100%|##########| 4/4 [00:01<00:00]")
    sweep.feed("[3/4] custom/c tiny lora seed=1: ok")
    sweep.feed(" 50%|#####     | 5/10 [00:01<00:01]")
    assert sweep.fraction == pytest.approx(3.5 / 4)

    embed = Progress()  # no total: a count and a rate
    embed.feed("embedding: 4800seq [00:02, 2054.29seq/s]")
    assert embed.fraction is None and "4800 seq" in embed.html() and "2054 seq/s" in embed.html()


def _required(cls: type[StrictConfig]) -> StrictConfig:
    """An instance of ``cls`` with dummy values in its required (top-level or nested) string fields."""
    data: dict[str, object] = {}
    for spec in form_fields(cls):
        if spec.required and spec.kind == "text":
            node = data
            *parents, leaf = spec.key.split(".")
            for part in parents:
                node = node.setdefault(part, {})  # type: ignore[assignment]
            node[leaf] = "x"
    return cls.model_construct(**data) if not data else validate_dict(cls, data)


def test_every_command_declares_where_its_results_are() -> None:
    """Derived from the table: a new command that forgets to declare an output path fails here."""
    from genomefactory.webui.forms import declared_path_keys

    for name, cmd in available_commands().items():
        if name == "webui":
            continue
        cls = load_ref(cmd.config)
        roles = declared_path_keys(cls)
        assert "output" in roles.values(), f"{name}: no field is declared an output (OutPath)"
    sae = validate_dict(SAETrainConfig, {"embeddings": "emb.parquet"})
    assert sae.output_paths() == ["sae"]  # `output`, not `output_dir`: the UI used to miss it
    reg = validate_dict(SAERegressionConfig, {"embeddings": "e", "sae_checkpoint": "s"})
    assert reg.output_paths() == ["interpretation"]
    assert InferenceConfig().output_paths() == ["embeddings.parquet"]  # only the chosen mode writes
    assert InferenceConfig(mode="predict").output_paths() == ["predictions.csv"]
    assert validate_dict(TrainConfig, {"data": {"path": "t"}}).output_paths() == ["runs/train"]


def test_results_show_the_declared_outputs_only(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("sequence,label\nACGT,1\n")
    (tmp_path / "embeddings.parquet").write_bytes(b"PAR1")
    (tmp_path / "embeddings.index.csv").write_text("id\n")
    (tmp_path / "embeddings_old.parquet").write_bytes(b"x")
    res = results_of([tmp_path / "embeddings.parquet"])  # embed with its default output: the workspace root
    assert sorted(Path(f).name for f in res["files"]) == ["embeddings.index.csv", "embeddings.parquet"]
    sae = tmp_path / "sae"
    sae.mkdir()
    (sae / "metrics.json").write_text('{"r2": 0.5, "dead_fraction": 0.25}')
    (sae / "sae.safetensors").write_bytes(b"x")
    (sae / "checkpoint-3").mkdir()
    (sae / "checkpoint-3" / "x.bin").write_bytes(b"x")
    res = results_of([sae])
    assert res["metrics"] == [("r2", "0.5000"), ("dead_fraction", "0.2500")]
    assert sorted(Path(f).name for f in res["files"]) == ["metrics.json", "sae.safetensors"]


def _fake(tmp_path: Path, body: str) -> str:
    fake = tmp_path / "fakepy"  # stands in for `python -m genomefactory CMD config.yaml`
    fake.write_text("#!/bin/sh\n" + body)
    fake.chmod(0o755)
    return str(fake)


def test_ui_files_never_land_in_the_output_folder(tmp_path: Path) -> None:
    """A failed run that made its output folder leaves it as the command left it: the rerun is not blocked."""
    out = tmp_path / "runs" / "t"
    mgr = RunManager(tmp_path, 1, python=_fake(tmp_path, f"mkdir -p {out}\necho failing\nexit 1\n"))
    run = mgr.submit("train", "output_dir: runs/t\n", [out])
    _wait(lambda: run.done, "the run to end")
    assert run.status == "failed" and out.is_dir() and list(out.iterdir()) == []
    state = run.run_dir
    assert state.parent == tmp_path / STATE_DIR and {p.name for p in state.iterdir()} == {
        "config.yaml",
        "run.log",
        "run.json",
    }


def test_field_length_is_bounded() -> None:
    specs = form_fields(TrainConfig)
    values: list[object] = [None] * len(specs)
    keys = [s.key for s in specs]
    values = [s.default if s.kind != "choice" else "(default)" for s in specs]
    values[keys.index("data.path")] = "a/" * 50_000
    with pytest.raises(ValueError, match=rf"data\.path: .*100,000 characters.*at most {MAX_FIELD_CHARS:,}"):
        build_data(specs, values)


def test_outputs_never_go_through_a_link_out_of_the_workspace(tmp_path: Path) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "shared"
    (outside / "tata").mkdir(parents=True)
    ws.mkdir()
    (ws / "tata").symlink_to(outside / "tata")  # the owner exposes a dataset
    (ws / "escape").symlink_to(outside)
    (ws / "runs").mkdir()
    ok = validate_dict(TrainConfig, {"data": {"path": "tata"}, "output_dir": "runs/x"})
    check_paths(ok, ws)  # a linked dataset is readable
    for bad in ("escape/x", "tata/run", "tata"):
        with pytest.raises(PathError, match=r"output_dir: .* link .*outside the workspace"):
            check_paths(ok.model_copy(update={"output_dir": bad}), ws)
    emb = InferenceConfig.model_validate({"embed": {"input": "tata/train.csv", "output": "escape/e.parquet"}})
    with pytest.raises(PathError, match=r"embed\.output"):
        check_paths(emb, ws)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


_SERVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from fastapi import FastAPI
    from genomefactory.webui.runner import RunManager
    from genomefactory.webui.server import serve_app

    ws, fake = Path(sys.argv[1]), sys.argv[2]
    manager = RunManager(ws, 1, python=fake)
    run = manager.submit("x", "", [])
    queued = manager.submit("y", "", [])
    while run.proc is None or not run.lines:
        time.sleep(0.05)
    print("child", run.proc.pid, flush=True)
    serve_app(FastAPI(), manager, "127.0.0.1", 0, block=True)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_every_way_the_server_ends_stops_its_runs(tmp_path: Path, sig: signal.Signals) -> None:
    fake = _fake(tmp_path, "echo up\nwhile true; do sleep 0.1; done\n")  # a long job
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(tmp_path), fake],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("child "), first
    child = int(first.split()[1])
    _wait(lambda: "web UI on http://127.0.0.1:" in proc.stdout.readline(), "the server to listen")  # type: ignore[union-attr]
    os.kill(proc.pid, sig)
    rest, _ = proc.communicate(timeout=LIMIT_S)
    assert proc.returncode == 0, rest
    assert rest.strip().splitlines() == ["stopped 2 run(s) started from the web UI"]  # quiet: no dump
    _wait(lambda: _group_gone(child), "the job's whole process group to be gone")  # not orphaned
    runs = sorted((tmp_path / STATE_DIR).glob("*/run.json"))
    assert [p.read_text().count('"status": "stopped"') for p in runs] == [1, 1]


def test_start_up_does_not_depend_on_a_localhost_self_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gradio's launch() raised "a shareable link must be created" when its self-check timed out under load."""
    pytest.importorskip("gradio")
    import urllib.request

    from gradio import networking

    from genomefactory.webui.app import launch
    from genomefactory.webui.config import WebUIConfig

    monkeypatch.setattr(networking, "url_ok", lambda url: False)  # what a loaded machine answered
    served = launch(WebUIConfig(workspace=str(tmp_path / "ws"), port=0), block=False)
    try:
        with urllib.request.urlopen(served.url, timeout=LIMIT_S) as resp:
            assert resp.status == 200 and b"genomefactory" in resp.read()
    finally:
        served.close()


def test_password_guards_the_page_and_is_never_in_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gradio")
    import urllib.error
    import urllib.request

    from genomefactory.config import ConfigError
    from genomefactory.webui.app import PASSWORD_ENV, launch
    from genomefactory.webui.config import WebUIConfig

    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    cfg = WebUIConfig(workspace=str(tmp_path / "ws"), port=0, auth_user="me")
    with pytest.raises(ConfigError, match=PASSWORD_ENV):
        launch(cfg, block=False)
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    served = launch(cfg, block=False)
    try:
        with pytest.raises(urllib.error.HTTPError) as err:  # the app's config is not served before login
            urllib.request.urlopen(served.url + "config", timeout=LIMIT_S)
        assert err.value.code == 401
        form = b"username=me&password=s3cret"
        with urllib.request.urlopen(served.url + "login", data=form, timeout=LIMIT_S) as resp:
            assert resp.status == 200
    finally:
        served.close()


def test_start_up_hint_while_the_command_imports(tmp_path: Path) -> None:
    from genomefactory.webui.panel import STARTING, RunView

    class FakeGr:
        @staticmethod
        def update(**kw: object) -> dict[str, object]:
            return kw

    go = tmp_path / "go"  # the fake command prints nothing until the test has seen the hint
    body = f"while [ ! -f {go} ]; do sleep 0.05; done\necho imported\n"
    mgr = RunManager(tmp_path, 1, python=_fake(tmp_path, body))
    run = mgr.submit("x", "", [])
    view = RunView.__new__(RunView)
    view.gr = FakeGr()
    statuses = []
    for out in view.watch(run, mgr, tmp_path):
        statuses.append(out[0])
        if STARTING in out[0]:
            go.touch()
    assert any(STARTING in s for s in statuses) and statuses[-1].startswith("**finished**")


def test_load_fills_the_form_and_refuses_a_misspelt_key(tmp_path: Path) -> None:
    gr = pytest.importorskip("gradio")
    from genomefactory.commands import COMMANDS
    from genomefactory.webui.panel import CommandPanel

    with gr.Blocks():
        panel = CommandPanel(gr, "train", COMMANDS["train"], RunManager(tmp_path, 1), tmp_path)
    keys = [s.key for s in panel.specs]
    good = tmp_path / "good.yaml"
    good.write_text(
        "training:\n  max_steps: 17\nmodel:\n  init: tiny\n"
    )  # partial: Run names what is missing
    out = panel.load(str(good))
    assert out[keys.index("training.max_steps")] == "17" and out[keys.index("model.init")] == "tiny"
    assert out[-1].startswith("loaded")
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  max_step: 17\n")
    assert "training.max_step" in panel.load(str(bad))[-1]
