"""Config of the ``webui`` command (the server itself is :func:`genomefactory.webui.app.serve`)."""

from __future__ import annotations

from pydantic import Field

from ..config import StrictConfig

__all__ = ["WebUIConfig"]


class WebUIConfig(StrictConfig):
    """``genomefactory-cli webui``: a browser interface over every command of the CLI."""

    host: str = Field(
        "127.0.0.1",
        description="Address to bind; 127.0.0.1 keeps the interface local. Use 0.0.0.0 "
        "only behind a firewall or an authenticating proxy: anyone who reaches it can run commands.",
    )
    port: int = Field(7860, ge=0, le=65535, description="Port (0 = pick a free one).")
    workspace: str = Field(
        "genomefactory_workspace",
        description="Folder every input and output path must lie in; relative paths "
        "in the forms are relative to it, and commands run with it as working directory.",
    )
    share: bool = Field(False, description="Open a public Gradio share link (off: it exposes the machine).")
    max_parallel_runs: int = Field(
        1, ge=1, description="Runs executed at once; later ones wait in the queue."
    )
    open_browser: bool = Field(False, description="Open the page in the default browser on start.")
    auth_user: str | None = Field(
        None,
        description="Ask for this user name and a password (taken from $GENOMEFACTORY_WEBUI_PASSWORD, never "
        "from YAML) before showing the page; off by default (127.0.0.1 only).",
    )
