"""The Gradio app: one tab per command of the CLI's COMMANDS table, forms generated from the config classes.

Tabs follow the paper's modules (Download, Process, Train, Inference, Benchmark, Interpret); a command the table
gains later lands in its module's tab (or "Other") without changes here. Each form shows the equivalent YAML and
CLI line as it is filled in; Run validates the config strictly, refuses paths outside the workspace, queues the
CLI as a subprocess and streams its log and progress; Stop ends it; results (metrics, plots, files) appear at the
end. Element ids are ``<command>-<dotted.key with dots as dashes>`` (used by the browser test).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..commands import Command, _load, available_commands
from ..config import ConfigError, validate_dict
from .config import WebUIConfig
from .forms import (
    UNSET,
    FieldSpec,
    PathError,
    build_data,
    check_paths,
    cli_line,
    form_fields,
    to_widget_value,
)
from .runner import Run, RunManager, progress_of, results_of

__all__ = ["build_app", "launch", "serve"]

TAB_OF = {
    "download": "Download",
    "process": "Process",
    "train": "Train",
    "inference": "Inference",
    "benchmark": "Benchmark",
    "sae_train": "Interpret",
    "sae_regression": "Interpret",
    "variants": "Interpret",
    "motifs": "Interpret",
}
TAB_ORDER = ["Download", "Process", "Train", "Inference", "Benchmark", "Interpret", "Other"]
HIDDEN = {"webui"}


def _gradio() -> Any:
    try:
        import gradio as gr
    except ImportError:
        raise SystemExit("the web UI needs Gradio: pip install 'genomefactory[webui]'") from None
    return gr


def _tabs(commands: dict[str, Command]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for name in commands:
        if name not in HIDDEN:
            groups.setdefault(TAB_OF.get(name, "Other"), []).append(name)
    return [(t, groups[t]) for t in TAB_ORDER if t in groups]


def _eid(command: str, key: str) -> str:
    return f"{command}-{key.replace('.', '-')}"


def _widget(gr: Any, command: str, spec: FieldSpec, visible: bool) -> Any:
    label = spec.key.split(".")[-1] + (" *" if spec.required else "")
    common = {
        "label": label,
        "info": spec.help or None,
        "elem_id": _eid(command, spec.key),
        "value": to_widget_value(spec),
        "visible": visible,
    }
    if spec.kind == "bool":
        return gr.Checkbox(**common)
    if spec.kind == "choice":
        choices = ([UNSET] if spec.optional else []) + spec.choices
        return (gr.Radio if len(choices) <= 5 else gr.Dropdown)(choices=choices, **common)
    if spec.kind in ("int", "float") and not spec.optional:  # gr.Number cannot be empty: None stays text
        return gr.Number(precision=0 if spec.kind == "int" else None, **common)
    hint = {"yaml": "YAML value", "int": "empty = default", "float": "empty = default"}.get(spec.kind)
    return gr.Textbox(lines=1, placeholder=hint, **common)


def _common_prefix(conds: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    first = conds[0] if conds else []
    n = 0
    while n < len(first) and all(len(c) > n and c[n] == first[n] for c in conds):
        n += 1
    return first[:n]


def _output_dir(cfg: Any, workspace: Path) -> Path | None:
    out = getattr(cfg, "output_dir", None)
    if out is None and isinstance(getattr(cfg, "mode", None), str):
        section = getattr(cfg, cfg.mode, None)
        target = getattr(section, "output", None) if section is not None else None
        out = Path(target).parent if target else None
    if out is None:
        return None
    p = Path(out)
    return p if p.is_absolute() else workspace / p


def _bar(run: Run) -> str:
    """Progress bar of the latest ``[k/n]`` or tqdm line; kept after the end (where a stopped run got to)."""
    frac = progress_of(run.lines)
    return f"<progress value='{frac:.3f}' max='1'></progress> {100 * frac:.0f}%" if frac is not None else ""


class CommandPanel:
    """The form, buttons and result widgets of one command."""

    def __init__(self, gr: Any, name: str, cmd: Command, manager: RunManager, workspace: Path) -> None:
        self.gr, self.name, self.manager, self.workspace = gr, name, manager, workspace
        self.cls = _load(cmd.config)
        self.specs = form_fields(self.cls)
        gr.Markdown(f"**genomefactory-cli {name}** — {cmd.help}")
        self.inputs = self._form()
        yaml0, cli0 = self.preview(*(to_widget_value(s) for s in self.specs))
        with gr.Accordion("Equivalent YAML and command line", open=False, elem_id=f"{name}-equivalent"):
            # a plain text box, not a code editor: the editor renders only the lines in view, so a long config
            # was not all in the page (copying it or reading it back missed lines)
            self.yaml = gr.Textbox(
                yaml0, label="config.yaml", elem_id=f"{name}-yaml", lines=12, max_lines=60, interactive=False
            )
            self.cli = gr.Textbox(
                cli0,
                label=f"command line (or: genomefactory-cli {name} config.yaml)",
                elem_id=f"{name}-cli",
                interactive=False,
            )
        with gr.Row():
            self.run_btn = gr.Button("Run", variant="primary", elem_id=f"{name}-run")
            self.stop_btn = gr.Button("Stop", variant="stop", elem_id=f"{name}-stop")
        self.status = gr.Markdown("", elem_id=f"{name}-status")
        self.progress = gr.HTML("", elem_id=f"{name}-progress")
        self.log = gr.Textbox(
            label="log", lines=14, max_lines=14, autoscroll=True, interactive=False, elem_id=f"{name}-log"
        )
        self.metrics = gr.Dataframe(
            headers=["metric", "value"], label="metrics", elem_id=f"{name}-metrics", interactive=False
        )
        self.gallery = gr.Gallery(label="plots", elem_id=f"{name}-plots", height=320)
        self.files = gr.File(
            label="outputs", file_count="multiple", elem_id=f"{name}-files", interactive=False
        )
        self.run_id = gr.State(None)
        self._wire()

    def _form(self) -> list[Any]:
        gr = self.gr
        comps: list[Any] = []
        sections: dict[str, list[FieldSpec]] = {}
        for s in self.specs:
            sections.setdefault(s.section, []).append(s)
        self.by_key: dict[str, Any] = {}
        defaults = {s.key: to_widget_value(s) for s in self.specs}

        def shown(cond: list[tuple[str, str]]) -> bool:
            return all(defaults.get(k) == v for k, v in cond)

        self.section_box: dict[str, Any] = {}
        ordered: list[FieldSpec] = []  # widget order: top-level fields of a section are grouped together
        for section, specs in sections.items():
            cond = _common_prefix([s.show_if for s in specs]) if section else []
            if section == "":
                box = gr.Column()
            else:
                box = gr.Accordion(
                    section,
                    open=section.count(".") == 0,
                    visible=shown(cond),
                    elem_id=_eid(self.name, section) + "-section",
                )
                self.section_box[section] = (box, cond)
            with box:
                for s in specs:
                    own = s.show_if[len(cond) :]
                    comp = _widget(gr, self.name, s, visible=shown(own))
                    self.by_key[s.key] = (comp, own)
                    comps.append(comp)
                    ordered.append(s)
        self.specs = ordered  # values arrive in widget order: build_data must zip them with the same order
        return comps

    def _wire(self) -> None:
        # visibility: one listener per controller field
        targets: dict[str, list[tuple[Any, str]]] = {}
        for box, cond in self.section_box.values():
            if cond:
                targets.setdefault(cond[-1][0], []).append((box, cond[-1][1]))
        for comp, cond in self.by_key.values():
            if cond:
                targets.setdefault(cond[-1][0], []).append((comp, cond[-1][1]))
        for ctl, outs in targets.items():
            values = [v for _, v in outs]

            def toggle(v: Any, values: list[str] = values) -> Any:
                ups = [self.gr.update(visible=(v == x)) for x in values]
                return ups[0] if len(ups) == 1 else ups  # one output takes one value, not a list

            self.by_key[ctl][0].change(toggle, inputs=self.by_key[ctl][0], outputs=[c for c, _ in outs])
        for comp in self.inputs:
            comp.change(self.preview, inputs=self.inputs, outputs=[self.yaml, self.cli])
        self.run_btn.click(
            self.start,
            inputs=self.inputs,
            outputs=[
                self.status,
                self.progress,
                self.log,
                self.metrics,
                self.gallery,
                self.files,
                self.run_id,
            ],
            concurrency_limit=None,
        )
        self.stop_btn.click(
            lambda rid: f"**{self.manager.stop(rid)}**",
            inputs=self.run_id,
            outputs=self.status,
            concurrency_limit=None,
        )

    def _validated(self, values: tuple[Any, ...]) -> tuple[Any, str]:
        data = build_data(self.specs, list(values))
        cfg = validate_dict(self.cls, data, f"the {self.name} form")
        check_paths(cfg, self.workspace)
        return cfg, yaml.safe_dump(data, sort_keys=False)

    def preview(self, *values: Any) -> tuple[str, str]:
        try:
            data = build_data(self.specs, list(values))
        except ValueError as exc:
            return f"# {exc}", ""
        return yaml.safe_dump(data, sort_keys=False), cli_line(self.name, data)

    def start(self, *values: Any) -> Iterator[tuple[Any, ...]]:
        gr = self.gr
        keep = gr.update()
        try:
            cfg, text = self._validated(values)
        except (ConfigError, PathError, ValueError) as exc:
            yield (f"**refused:** {exc}".replace("\n", "  \n"), "", keep, keep, keep, keep, None)
            return
        run = self.manager.submit(self.name, text, _output_dir(cfg, self.workspace))
        yield from self.watch(run)

    def watch(self, run: Run) -> Iterator[tuple[Any, ...]]:
        gr = self.gr
        keep = gr.update()
        cli = f"genomefactory-cli {run.command} {os.path.relpath(run.config_path, self.workspace)}"
        while not run.done:
            if run.status == "queued":
                msg = f"**queued** (position {self.manager.position(run)}) — `{cli}`"
            else:  # running or stopping
                msg = f"**{run.status}** {run.id} — `{cli}`"
            yield (msg, _bar(run), run.log_tail(), keep, keep, keep, run.id)
            time.sleep(0.5)
        res = results_of(run.output_dir)
        took = f"{(run.ended or 0) - (run.started or run.ended or 0):.1f} s"
        msg = f"**{run.status}** {run.id} (exit code {run.returncode}, {took}) — `{cli}`"
        if run.output_dir is not None:
            msg += f"  \noutputs: `{run.output_dir}`"
        rows = [list(r) for r in res["metrics"]] or [["(no metrics file)", ""]]
        yield (msg, _bar(run), run.log_tail(), rows, res["images"] or None, res["files"] or None, run.id)


def _runs_tab(gr: Any, manager: RunManager) -> None:
    table = gr.Dataframe(
        headers=["run", "command", "status", "output folder"], interactive=False, elem_id="runs-table"
    )

    def rows() -> list[list[str]]:
        return [
            [r.id, r.command, r.status, str(r.output_dir or "")]
            for r in reversed(list(manager.runs.values()))
        ]

    with gr.Row():
        refresh = gr.Button("Refresh")
        rid = gr.Textbox(label="run id to stop", scale=3)
        stop = gr.Button("Stop run", variant="stop")
    msg = gr.Markdown("")
    refresh.click(rows, outputs=table)
    stop.click(lambda r: manager.stop(r.strip()), inputs=rid, outputs=msg)
    gr.Timer(2.0).tick(rows, outputs=table)


def build_app(cfg: WebUIConfig) -> tuple[Any, RunManager]:
    gr = _gradio()
    workspace = Path(os.path.abspath(cfg.workspace))
    workspace.mkdir(parents=True, exist_ok=True)
    manager = RunManager(workspace, cfg.max_parallel_runs)
    commands = available_commands()
    with gr.Blocks(title="genomefactory") as demo:
        gr.Markdown(
            f"# genomefactory\nWorkspace: `{workspace}` — every input and output path must lie inside it; "
            "relative paths are relative to it."
        )
        with gr.Tabs():
            for title, names in _tabs(commands):
                with gr.Tab(title, elem_id=f"tab-{title.lower()}"):
                    if len(names) == 1:
                        CommandPanel(gr, names[0], commands[names[0]], manager, workspace)
                        continue
                    with gr.Tabs():
                        for n in names:
                            with gr.Tab(n, elem_id=f"tab-{n}"):
                                CommandPanel(gr, n, commands[n], manager, workspace)
            with gr.Tab("Runs", elem_id="tab-runs"):
                _runs_tab(gr, manager)
    return demo, manager


def launch(cfg: WebUIConfig, block: bool = True) -> Any:
    """Serve the app on ``cfg.host:cfg.port``; with ``block=False`` return (app, manager, url) at once."""
    demo, manager = build_app(cfg)
    if cfg.share:
        print("warning: share=true opens a public link: anyone with it can run commands on this machine")
    demo.queue(default_concurrency_limit=None)
    try:
        _, url, _ = demo.launch(
            server_name=cfg.host,
            server_port=cfg.port or None,
            share=cfg.share,
            inbrowser=cfg.open_browser,
            prevent_thread_lock=not block,
            allowed_paths=[str(Path(os.path.abspath(cfg.workspace)))],
            quiet=not block,
        )
    finally:
        if block:  # the server has stopped (Ctrl-C): runs it started must not keep going
            stopped = manager.shutdown()
            if stopped:
                print(f"stopped {stopped} run(s) started from the web UI")
    return demo, manager, url


def serve(cfg: WebUIConfig) -> Any:
    """The ``webui`` command: build the app and serve it until interrupted."""
    return launch(cfg, block=True)
