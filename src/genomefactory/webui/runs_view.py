"""The Runs tab (re-attach, stop, resume, try a trained model) and the Workspace tab (data picker + preview).

A run is picked by id: its live log, progress, curves and results are followed from then on, whichever page or
browser tab started it, also after a reload (runs of an earlier server are read back from the UI's state folder).
Resume re-submits a stopped run's own config with the command's ``resume`` switch on (a command without one
says so). "Try it" predicts with a finished training run's model on pasted sequences or an uploaded FASTA
through the same ``inference`` command, without writing a config by hand.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..commands import COMMANDS, load_ref
from ..config import ConfigError, validate_dict
from ..errors import UserError
from ..records import is_fasta, is_table, read_records
from .forms import PathError, check_paths, form_fields
from .panel import RunView, outputs_of
from .runner import STATE_DIR, Run, RunManager

__all__ = ["runs_tab", "workspace_tab"]

TRY_COMMAND = "inference"  # the command that predicts with a trained run (its model.path takes a run folder)
PREVIEW_ROWS = 20_000  # counted for the class and length summary; the first few are shown


def _choices(manager: RunManager) -> list[str]:
    return [r.id for r in reversed(list(manager.runs.values()))]


def _rows(manager: RunManager) -> list[list[str]]:
    return [
        [r.id, r.command, r.status, ", ".join(str(p) for p in r.outputs)]
        for r in reversed(list(manager.runs.values()))
    ]


def _resume_key(command: str) -> str | None:
    cls = load_ref(COMMANDS[command].config)
    keys = [s.key for s in form_fields(cls) if s.kind == "bool" and s.key.split(".")[-1] == "resume"]
    return keys[0] if keys else None


def resume(manager: RunManager, workspace: Path, run: Run) -> Run | str:
    """A new run of ``run``'s config with its command's ``resume`` switch on, or why not."""
    if not run.done:
        return f"{run.id} is {run.status}: stop it first"
    key = _resume_key(run.command) if run.command in COMMANDS else None
    if key is None:
        return f"`{run.command}` has no resume switch: run it again from its tab"
    data = yaml.safe_load(run.config_path.read_text()) or {}
    node = data
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = True
    cls = load_ref(COMMANDS[run.command].config)
    try:
        cfg = validate_dict(cls, data, str(run.config_path))
        check_paths(cfg, workspace)
    except (ConfigError, PathError) as exc:
        return str(exc)
    return manager.submit(run.command, yaml.safe_dump(data, sort_keys=False), outputs_of(cfg, workspace))


def _model_dir(run: Run) -> Path | None:
    """The trained model a finished run left (a run folder holding ``model/``), else None."""
    if run.status != "finished":
        return None
    return next((p for p in run.outputs if (p / "model").is_dir()), None)


def _fasta_text(text: str) -> str:
    text = text.strip()
    if text.startswith(">"):
        return text + "\n"
    seqs = [line.strip() for line in text.splitlines() if line.strip()]
    return "".join(f">seq{i + 1}\n{s}\n" for i, s in enumerate(seqs))


def try_it(manager: RunManager, workspace: Path, run: Run, text: str, upload: Any) -> Run | str:
    model = _model_dir(run)
    if model is None:
        return f"{run.id} left no trained model (pick a finished training run)"
    folder = run.run_dir / "try"
    folder.mkdir(exist_ok=True)
    n = len(list(folder.glob("*.fasta"))) + 1
    fasta = folder / f"input{n}.fasta"
    if upload is not None:
        fasta.write_bytes(Path(str(getattr(upload, "name", upload))).read_bytes())
    elif text.strip():
        fasta.write_text(_fasta_text(text))
    else:
        return "paste sequences or upload a FASTA file"
    data = {
        "mode": "predict",
        "model": {"path": str(model)},
        "predict": {"input": str(fasta), "output": str(folder / f"predictions{n}.csv")},
    }
    cls = load_ref(COMMANDS[TRY_COMMAND].config)
    try:
        cfg = validate_dict(cls, data, "the try-it box")
        check_paths(cfg, workspace)
    except (ConfigError, PathError) as exc:
        return str(exc)
    return manager.submit(TRY_COMMAND, yaml.safe_dump(data, sort_keys=False), outputs_of(cfg, workspace))


def _table(path: Path, limit: int = 200) -> list[list[str]]:
    with path.open(newline="") as fh:
        return [row for _, row in zip(range(limit + 1), csv.reader(fh), strict=False)]


def runs_tab(gr: Any, manager: RunManager, workspace: Path) -> None:
    with gr.Row():
        pick = gr.Dropdown(label="run", choices=_choices(manager), elem_id="runs-pick", scale=4)
        refresh = gr.Button("Refresh", elem_id="runs-refresh", scale=1)
        stop = gr.Button("Stop", variant="stop", elem_id="runs-stop", scale=1)
        again = gr.Button("Resume", elem_id="runs-resume", scale=1)
    table = gr.Dataframe(
        headers=["run", "command", "status", "outputs"],
        interactive=False,
        elem_id="runs-table",
        max_height=220,
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            view = RunView(gr, "runs")
        with (
            gr.Column(scale=2),
            gr.Accordion("Try it: predict with the picked training run", open=True, elem_id="runs-try"),
        ):
            seqs = gr.Textbox(
                label="sequences (FASTA, or one per line)",
                lines=5,
                max_length=200_000,
                elem_id="runs-try-input",
            )
            upload = gr.File(label="or a FASTA file", elem_id="runs-try-file")
            go = gr.Button("Predict", elem_id="runs-try-run")
            try_status = gr.Markdown("", elem_id="runs-try-status")
            preds = gr.Dataframe(interactive=False, elem_id="runs-try-table")

    def attach(run_id: str | None) -> Iterator[tuple[Any, ...]]:
        run = manager.runs.get(run_id or "")
        if run is None:
            return
        yield from view.watch(run, manager, workspace)

    def listing() -> tuple[Any, Any]:
        return gr.update(choices=_choices(manager)), _rows(manager)

    def do_resume(run_id: str | None) -> Iterator[tuple[Any, ...]]:
        run = manager.runs.get(run_id or "")
        new = resume(manager, workspace, run) if run is not None else "pick a run"
        if isinstance(new, str):
            yield (f"**not resumed:** {new}", *[gr.update()] * (len(view.outputs) - 1), gr.update())
            return
        for out in view.watch(new, manager, workspace):
            yield (*out, gr.update(choices=_choices(manager), value=new.id))

    def do_try(run_id: str | None, text: str, file: Any) -> Iterator[tuple[Any, Any]]:
        run = manager.runs.get(run_id or "")
        new = try_it(manager, workspace, run, text or "", file) if run is not None else "pick a run"
        if isinstance(new, str):
            yield f"**refused:** {new}", gr.update()
            return
        for out in view.watch(new, manager, workspace):
            yield out[0], gr.update()
        csvs = [p for p in new.outputs if p.suffix == ".csv" and p.is_file()]
        if csvs:
            rows = _table(csvs[0])
            yield out[0], gr.update(value=rows[1:], headers=rows[0])

    pick.change(attach, inputs=pick, outputs=view.outputs, concurrency_limit=None)
    refresh.click(listing, outputs=[pick, table])
    gr.Timer(3.0).tick(listing, outputs=[pick, table])
    stop.click(lambda r: f"**{manager.stop(r)}**", inputs=pick, outputs=view.status, concurrency_limit=None)
    again.click(do_resume, inputs=pick, outputs=[*view.outputs, pick], concurrency_limit=None)
    go.click(do_try, inputs=[pick, seqs, upload], outputs=[try_status, preds], concurrency_limit=None)


# -- workspace: data picker with a preview -------------------------------------------------------------------
def datasets(workspace: Path, depth: int = 3, limit: int = 500) -> list[str]:
    """Task folders (with train.csv) and sequence files under the workspace, linked ones included."""
    found: list[str] = []

    def walk(folder: Path, level: int) -> None:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return
        for p in entries:
            if len(found) >= limit or p.name.startswith(".") or p.name == STATE_DIR:
                continue
            rel = str(p.relative_to(workspace))
            if p.is_dir():
                if (p / "train.csv").is_file():
                    found.append(rel + "/")
                elif level < depth:
                    walk(p, level + 1)
            elif is_fasta(p) or is_table(p):
                found.append(rel)

    walk(workspace, 1)
    return found


def _summary(path: Path) -> tuple[str, list[list[str]]]:
    kw: dict[str, Any] = {"unique": False}
    try:
        records = list(zip(range(PREVIEW_ROWS), read_records(path, label_column="label", **kw), strict=False))
    except UserError:
        records = list(zip(range(PREVIEW_ROWS), read_records(path, **kw), strict=False))
    recs = [r for _, r in records]
    if not recs:
        return f"`{path.name}`: no records", []
    lengths = [len(r.sequence) for r in recs]
    labels = Counter(r.label for r in recs if r.label is not None)
    more = "+" if len(recs) == PREVIEW_ROWS else ""
    text = (
        f"`{path.name}`: {len(recs)}{more} sequences, length {min(lengths)}–{max(lengths)} "
        f"(median {statistics.median(lengths):.0f})"
    )
    if labels:
        text += "; classes " + ", ".join(f"{k}: {v}" for k, v in sorted(labels.items()))
    head = [[r.id, r.sequence[:60] + ("…" if len(r.sequence) > 60 else ""), r.label or ""] for r in recs[:8]]
    return text, head


def preview(workspace: Path, choice: str | None) -> tuple[str, list[list[str]]]:
    if not choice:
        return "", []
    path = workspace / choice
    try:
        if choice.endswith("/"):
            parts: list[str] = []
            head: list[list[str]] = []
            for split in ("train", "dev", "test"):
                if (path / f"{split}.csv").is_file():
                    text, rows = _summary(path / f"{split}.csv")
                    parts.append(f"- **{split}** — {text}")
                    head = head or rows
            return f"**{choice}** (use it as `data.path: {choice.rstrip('/')}`)\n" + "\n".join(parts), head
        text, head = _summary(path)
        return text, head
    except (UserError, OSError) as exc:
        return f"cannot preview {choice}: {exc}", []


def workspace_tab(gr: Any, workspace: Path) -> None:
    gr.Markdown(
        "Data in the workspace (task folders with train/dev/test.csv, and sequence files; a dataset the owner "
        "exposed by a symbolic link is listed and readable, never written). Give a path shown here to a form."
    )
    with gr.Row():
        pick = gr.Dropdown(label="dataset", choices=datasets(workspace), elem_id="data-pick", scale=4)
        refresh = gr.Button("Refresh", elem_id="data-refresh", scale=1)
    info = gr.Markdown("", elem_id="data-info")
    head = gr.Dataframe(headers=["id", "sequence", "label"], interactive=False, elem_id="data-head")
    pick.change(lambda c: preview(workspace, c), inputs=pick, outputs=[info, head])
    refresh.click(lambda: gr.update(choices=datasets(workspace)), outputs=pick)
