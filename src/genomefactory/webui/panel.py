"""One command's panel: the form (generated from its config class) beside the run's live view.

Layout: the form on the left (related fields two per row; sections that hold what a run needs open, the rest
folded), the Run / Stop buttons, status, progress, log and results on the right in a column that stays in view
while the form scrolls. Under the form: the equivalent YAML and command line (copyable), Save / Load YAML and
Reset. :class:`RunView` (status, progress, log, metrics, curves, plots, files) is shared with the Runs tab.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ..commands import Command, load_ref
from ..config import ConfigError, validate_dict
from ..io import atomic_write_text
from .forms import (
    MAX_FIELD_CHARS,
    UNSET,
    FieldSpec,
    PathError,
    build_data,
    check_paths,
    cli_line,
    form_fields,
    registry_choices,
    secrets_of,
    to_widget_value,
)
from .results import curves_of, results_of
from .runner import STATE_DIR, Run, RunManager

__all__ = ["CommandPanel", "RunView", "eid", "outputs_of"]

STARTING = "starting: loading libraries and the model (the first log lines follow in a few seconds)"


def eid(command: str, key: str) -> str:
    return f"{command}-{key.replace('.', '-')}"


def outputs_of(cfg: Any, workspace: Path) -> list[Path]:
    """The command's declared outputs (``output_paths()`` of its config), absolute."""
    outs = [Path(os.path.expanduser(p)) for p in cfg.output_paths()]
    return [p if p.is_absolute() else workspace / p for p in outs]


def _widget(gr: Any, command: str, spec: FieldSpec, visible: bool) -> Any:
    label = spec.key.split(".")[-1] + (" *" if spec.required else "")
    common = {
        "label": label,
        "info": spec.help or None,
        "elem_id": eid(command, spec.key),
        "value": to_widget_value(spec),
        "visible": visible,
    }
    if spec.kind == "bool":
        return gr.Checkbox(**common)
    if spec.secret is not None:  # never in the YAML, the command line or the logs
        return gr.Textbox(type="password", placeholder=f"or set ${spec.secret}", **common)
    if spec.choices_from is not None:  # registry names; other text (an alias, a hub model) still accepted
        names = registry_choices(spec) if spec.choices_from.depends_on is None else []
        return gr.Dropdown(choices=[UNSET, *names], allow_custom_value=True, filterable=True, **common)
    if spec.kind == "choice":
        choices = ([UNSET] if spec.optional else []) + spec.choices
        return (gr.Radio if len(choices) <= 5 else gr.Dropdown)(choices=choices, **common)
    if spec.kind in ("int", "float") and not spec.optional:  # gr.Number cannot be empty: None stays text
        return gr.Number(precision=0 if spec.kind == "int" else None, **common)
    hint = {"yaml": "YAML value", "int": "empty = default", "float": "empty = default"}.get(spec.kind)
    # one past the bound: a longer paste is cut in the browser and still refused, naming the key
    return gr.Textbox(lines=1, placeholder=hint, max_length=MAX_FIELD_CHARS + 1, **common)


def _common_prefix(conds: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    first = conds[0] if conds else []
    n = 0
    while n < len(first) and all(len(c) > n and c[n] == first[n] for c in conds):
        n += 1
    return first[:n]


class RunView:
    """Status, progress, log and results of one run (a command panel's latest, or the one picked in Runs)."""

    def __init__(self, gr: Any, prefix: str) -> None:
        self.gr = gr
        self.status = gr.Markdown("", elem_id=f"{prefix}-status")
        self.progress = gr.HTML("", elem_id=f"{prefix}-progress")
        self.log = gr.Textbox(
            label="log", lines=14, max_lines=14, autoscroll=True, interactive=False, elem_id=f"{prefix}-log"
        )
        with gr.Tabs():
            with gr.Tab("metrics"):
                self.metrics = gr.Dataframe(
                    headers=["metric", "value"], elem_id=f"{prefix}-metrics", interactive=False
                )
            with gr.Tab("curves", elem_id=f"{prefix}-curves-tab"):
                self.curve = gr.LinePlot(
                    x="step",
                    y="value",
                    color="series",
                    label="loss and dev metrics",
                    elem_id=f"{prefix}-curve",
                )
                self.rate = gr.LinePlot(
                    x="step",
                    y="value",
                    color="series",
                    label="learning rate",
                    height=180,
                    elem_id=f"{prefix}-lr",
                )
            with gr.Tab("plots"):
                self.gallery = gr.Gallery(label="plots", elem_id=f"{prefix}-plots", height=320)
            with gr.Tab("files"):
                self.files = gr.File(
                    label="outputs", file_count="multiple", elem_id=f"{prefix}-files", interactive=False
                )

    @property
    def outputs(self) -> list[Any]:
        return [
            self.status,
            self.progress,
            self.log,
            self.metrics,
            self.curve,
            self.rate,
            self.gallery,
            self.files,
        ]

    def _curves(self, run: Run) -> tuple[Any, Any]:
        import pandas as pd

        metrics, rates = curves_of(run.outputs)
        keep = self.gr.update()
        return (
            pd.DataFrame(metrics) if metrics else keep,
            pd.DataFrame(rates) if rates else keep,
        )

    def watch(self, run: Run, manager: RunManager, workspace: Path) -> Iterator[tuple[Any, ...]]:
        """Yield the view's values until the run ends (a page reload just starts another watcher)."""
        keep = self.gr.update()
        cli = f"genomefactory-cli {run.command} {os.path.relpath(run.config_path, workspace)}"
        last_curve = 0.0
        while not run.done:
            if run.status == "queued":
                msg = f"**queued** (position {manager.position(run)}) — `{cli}`"
            elif run.status == "running" and not run.lines:
                msg = f"**running** {run.id} — {STARTING} — `{cli}`"
            else:  # running or stopping
                msg = f"**{run.status}** {run.id} — `{cli}`"
            curve, rate = keep, keep
            if time.monotonic() - last_curve > 2.0:
                curve, rate = self._curves(run)
                last_curve = time.monotonic()
            yield (msg, run.progress.html(), run.log_tail(), keep, curve, rate, keep, keep)
            time.sleep(0.5)
        res = results_of(run.outputs)
        took = f"{(run.ended or 0) - (run.started or run.ended or 0):.1f} s"
        msg = f"**{run.status}** {run.id} (exit code {run.returncode}, {took}) — `{cli}`"
        if run.outputs:
            msg += "  \noutputs: " + ", ".join(f"`{p}`" for p in run.outputs)
        rows = [list(r) for r in res["metrics"]] or [["(no metrics file)", ""]]
        curve, rate = self._curves(run)
        yield (
            msg,
            run.progress.html(),
            run.log_tail(),
            rows,
            curve,
            rate,
            res["images"] or None,
            res["files"] or None,
        )


class CommandPanel:
    """The form, buttons and run view of one command."""

    def __init__(self, gr: Any, name: str, cmd: Command, manager: RunManager, workspace: Path) -> None:
        self.gr, self.name, self.manager, self.workspace = gr, name, manager, workspace
        self.cls = load_ref(cmd.config)
        self.specs = form_fields(self.cls)
        gr.Markdown(f"**genomefactory-cli {name}** — {cmd.help}")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                self.inputs = self._form()
                yaml0, cli0 = self.preview(*(to_widget_value(s) for s in self.specs))
                with gr.Accordion(
                    "YAML, command line, save / load", open=False, elem_id=f"{name}-equivalent"
                ):
                    # a plain text box, not a code editor: the editor renders only the lines in view
                    self.yaml = gr.Textbox(
                        yaml0,
                        label="config.yaml",
                        elem_id=f"{name}-yaml",
                        lines=8,
                        max_lines=40,
                        interactive=False,
                    )
                    self.cli = gr.Textbox(
                        cli0,
                        label=f"command line (or: genomefactory-cli {name} config.yaml)",
                        elem_id=f"{name}-cli",
                        interactive=False,
                        buttons=["copy"],
                    )
                    with gr.Row():
                        # a file from the start: a click before the first edit downloads the defaults
                        self.save_btn = gr.DownloadButton(
                            "Save YAML", value=self._saved(yaml0), elem_id=f"{name}-save", size="sm"
                        )
                        self.load_btn = gr.UploadButton(
                            "Load YAML", file_types=[".yaml", ".yml"], elem_id=f"{name}-load", size="sm"
                        )
                        self.reset_btn = gr.Button("Reset to defaults", elem_id=f"{name}-reset", size="sm")
            with gr.Column(scale=2, min_width=380, elem_classes=["gf-side"]):
                with gr.Row():
                    self.run_btn = gr.Button("Run", variant="primary", elem_id=f"{name}-run")
                    self.stop_btn = gr.Button("Stop", variant="stop", elem_id=f"{name}-stop")
                self.view = RunView(gr, name)
        self.run_id = gr.State(None)
        self._wire()

    def _opens(self, specs: list[FieldSpec], controllers: set[str]) -> bool:
        """A top-level section opens when it holds what a run needs; the rest (advanced) stays folded."""
        return any(
            s.required or s.path == "input" or s.choices_from is not None or s.key in controllers
            for s in specs
        )

    def _form(self) -> list[Any]:
        gr = self.gr
        comps: list[Any] = []
        sections: dict[str, list[FieldSpec]] = {}
        for s in self.specs:
            sections.setdefault(s.section, []).append(s)
        self.by_key: dict[str, Any] = {}
        defaults = {s.key: to_widget_value(s) for s in self.specs}
        controllers = {k for s in self.specs for k, _ in s.show_if}

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
                    open=section.count(".") == 0 and (bool(cond) or self._opens(specs, controllers)),
                    visible=shown(cond),
                    elem_id=eid(self.name, section) + "-section",
                )
                self.section_box[section] = (box, cond)
            with box:
                for i in range(0, len(specs), 2):  # two fields per row: a compact form
                    with gr.Row(equal_height=False):
                        for s in specs[i : i + 2]:
                            own = s.show_if[len(cond) :]
                            comp = _widget(gr, self.name, s, visible=shown(own))
                            self.by_key[s.key] = (comp, own)
                            comps.append(comp)
                            ordered.append(s)
        self.specs = ordered  # values arrive in widget order: build_data must zip them with the same order
        return comps

    def _wire(self) -> None:
        gr = self.gr
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
                ups = [gr.update(visible=(v == x)) for x in values]
                return ups[0] if len(ups) == 1 else ups  # one output takes one value, not a list

            self.by_key[ctl][0].change(toggle, inputs=self.by_key[ctl][0], outputs=[c for c, _ in outs])
        for spec in self.specs:  # a family's variants follow the chosen family
            dep = spec.choices_from.depends_on if spec.choices_from is not None else None
            sibling = (f"{spec.section}.{dep}" if spec.section else dep) if dep else None
            if sibling is None or sibling not in self.by_key:
                continue

            def follow(v: Any, spec: FieldSpec = spec) -> Any:
                return gr.update(choices=[UNSET, *registry_choices(spec, v)], value=UNSET)

            self.by_key[sibling][0].change(
                follow, inputs=self.by_key[sibling][0], outputs=self.by_key[spec.key][0]
            )
        for (
            comp
        ) in self.inputs:  # one at a time, in order: a late older preview must not overwrite a newer one
            comp.change(
                self.preview,
                inputs=self.inputs,
                outputs=[self.yaml, self.cli],
                concurrency_limit=1,
                concurrency_id=f"{self.name}-preview",
                trigger_mode="always_last",
            )
        self.yaml.change(self._saved, inputs=self.yaml, outputs=self.save_btn)
        self.load_btn.upload(self.load, inputs=self.load_btn, outputs=[*self.inputs, self.view.status])
        self.reset_btn.click(lambda: [to_widget_value(s) for s in self.specs], outputs=self.inputs)
        self.run_btn.click(
            self.start, inputs=self.inputs, outputs=[*self.view.outputs, self.run_id], concurrency_limit=None
        )
        self.stop_btn.click(
            lambda rid: f"**{self.manager.stop(rid)}**",
            inputs=self.run_id,
            outputs=self.view.status,
            concurrency_limit=None,
        )

    def _saved(self, text: str) -> str:
        """The form's YAML as a file for the Save button (in the UI's state folder, not beside the data).

        One file per content (a folder named by its hash), written atomically: two pages editing the same
        command never hand each other's form, nor a half-written file, to the download.
        """
        body = text if not text.startswith("# ") else ""
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        path = self.workspace / STATE_DIR / "forms" / digest / f"{self.name}.yaml"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, body)
        return str(path)

    def load(self, file: Any) -> list[Any]:
        """Fill the form from a YAML file (strictly validated first: a typo names the key)."""
        path = getattr(file, "name", file)
        keep = [self.gr.update() for _ in self.specs]
        try:
            data = yaml.safe_load(Path(str(path)).read_text()) or {}
            unknown = _unknown_keys(data, {s.key for s in self.specs})
            if unknown:  # a partial form is fine (Run names what is missing); a misspelt key is not
                raise ConfigError(f"unknown key(s) {', '.join(unknown)} in {Path(str(path)).name}")
        except (ConfigError, OSError, yaml.YAMLError) as exc:
            return [*keep, f"**not loaded:** {exc}".replace("\n", "  \n")]
        values = []
        for spec in self.specs:
            node: Any = data
            for part in spec.key.split("."):
                node = node.get(part, UNSET) if isinstance(node, dict) else UNSET
            values.append(
                to_widget_value(spec) if node is UNSET else to_widget_value(_with_default(spec, node))
            )
        return [*values, f"loaded `{Path(str(path)).name}`"]

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
        keep = self.gr.update()
        try:
            cfg, text = self._validated(values)
        except (ConfigError, PathError, ValueError) as exc:
            refused = f"**refused:** {exc}".replace("\n", "  \n")
            yield (refused, "", keep, keep, keep, keep, keep, keep, None)
            return
        env = secrets_of(self.specs, list(values))
        run = self.manager.submit(self.name, text, outputs_of(cfg, self.workspace), env=env)
        for out in self.view.watch(run, self.manager, self.workspace):
            yield (*out, run.id)


def _unknown_keys(data: Any, keys: set[str], prefix: str = "") -> list[str]:
    if not isinstance(data, dict):
        return [] if prefix.rstrip(".") in keys or not prefix else [prefix.rstrip(".")]
    out: list[str] = []
    for k, v in data.items():
        key = f"{prefix}{k}"
        if key in keys:
            continue
        if isinstance(v, dict) and any(s.startswith(key + ".") for s in keys):
            out += _unknown_keys(v, keys, key + ".")
        else:
            out.append(key)
    return out


def _with_default(spec: FieldSpec, value: Any) -> FieldSpec:
    from dataclasses import replace

    return replace(spec, default=value)
