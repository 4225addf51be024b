"""The Gradio app: one tab per command of the CLI's COMMANDS table, forms generated from the config classes.

Tabs follow the paper's modules (Download, Process, Train, Inference, Benchmark, Interpret); a command the table
gains later lands in the tab of its config's package (``train`` -> Train, ``interpret`` -> Interpret, ...) or
"Other", without changes here. Each form shows the equivalent YAML and CLI line as it is filled in; Run validates
the config strictly, refuses paths outside the workspace, queues the CLI as a subprocess and streams its log,
progress and training curves; Stop ends it; results (metrics, plots, files) appear at the end. The Runs tab
re-attaches to any run (after a page reload too), stops or resumes it, and tries a trained model on pasted
sequences; the Workspace tab previews the data. Element ids are ``<command>-<dotted.key with dots as dashes>``
(used by the browser test).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..commands import Command, available_commands
from ..config import ConfigError
from .config import WebUIConfig
from .panel import CommandPanel
from .runner import RunManager
from .runs_view import runs_tab, workspace_tab

__all__ = ["CommandPanel", "build_app", "launch", "serve"]

PASSWORD_ENV = "GENOMEFACTORY_WEBUI_PASSWORD"
# the run column (buttons, status, log) stays in view while the form beside it scrolls
CSS = """
.gf-side { position: sticky; top: 8px; align-self: flex-start; max-height: calc(100vh - 16px); overflow-y: auto; }
"""

TAB_OF = {
    "download": "Download",
    "process": "Process",
    "per_base_data": "Process",
    "train": "Train",
    "pretrain": "Train",
    "plan": "Train",  # the memory planner reads a train config
    "inference": "Inference",
    "benchmark": "Benchmark",
    "sae_train": "Interpret",
    "sae_regression": "Interpret",
    "variants": "Interpret",
    "attribute": "Interpret",
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


TAB_OF_PACKAGE = {
    "collect": "Process",
    "train": "Train",
    "models": "Train",
    "infer": "Inference",
    "benchmark": "Benchmark",
    "interpret": "Interpret",
    "variants": "Interpret",
}


def _tab_of(name: str, cmd: Command) -> str:
    package = cmd.config.split(":")[0].split(".")[1:2]
    return TAB_OF.get(name) or TAB_OF_PACKAGE.get(package[0] if package else "", "Other")


def _tabs(commands: dict[str, Command]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for name, cmd in commands.items():
        if name not in HIDDEN:
            groups.setdefault(_tab_of(name, cmd), []).append(name)
    return [(t, groups[t]) for t in TAB_ORDER if t in groups]


def build_app(cfg: WebUIConfig) -> tuple[Any, RunManager]:
    gr = _gradio()
    workspace = Path(os.path.abspath(cfg.workspace))
    workspace.mkdir(parents=True, exist_ok=True)
    manager = RunManager(workspace, cfg.max_parallel_runs)
    manager.load_history()
    commands = available_commands()
    with gr.Blocks(title="genomefactory") as demo:
        gr.Markdown(
            f"# genomefactory\nWorkspace: `{workspace}` — every input and output path must lie inside it; "
            "relative paths are relative to it. Runs keep going when the page is closed: the **Runs** tab "
            "re-attaches to them."
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
                runs_tab(gr, manager, workspace)
            with gr.Tab("Workspace", elem_id="tab-workspace"):
                workspace_tab(gr, workspace)
    return demo, manager


def launch(cfg: WebUIConfig, block: bool = True) -> Any:
    """Serve the app on ``cfg.host:cfg.port`` (see :mod:`.server`); ``block=False`` returns a
    :class:`~.server.Served` at once (its ``url``, ``manager`` and ``close()``)."""
    gr = _gradio()
    from fastapi import FastAPI

    from .server import FOLLOW_LOG_JS, serve_app

    demo, manager = build_app(cfg)
    demo.queue(default_concurrency_limit=None)
    if cfg.share:
        print("warning: share=true opens a public link: anyone with it can run commands on this machine")
        demo.launch(server_name=cfg.host, server_port=cfg.port or None, share=True, head=FOLLOW_LOG_JS)
        return None
    auth = None
    if cfg.auth_user:
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise ConfigError(
                f"auth_user={cfg.auth_user!r} needs the password in ${PASSWORD_ENV} (kept out of YAML)"
            )
        auth = (cfg.auth_user, password)
    app = gr.mount_gradio_app(
        FastAPI(),
        demo,
        auth=auth,
        css=CSS,
        path="",
        server_name=cfg.host,
        server_port=cfg.port,
        allowed_paths=[str(Path(os.path.abspath(cfg.workspace)))],
        head=FOLLOW_LOG_JS,
        footer_links=[],
        run_history=False,
        ssr_mode=False,
    )
    return serve_app(app, manager, cfg.host, cfg.port, block)


def serve(cfg: WebUIConfig) -> None:
    """The ``webui`` command: build the app and serve it until a signal ends it (nothing is returned, so the
    CLI prints no summary)."""
    launch(cfg, block=True)
