"""Runs of the web UI: a FIFO queue of CLI subprocesses, their live logs, progress, stop, and results.

Each run gets ``<workspace>/webui_runs/<id>/`` with ``config.yaml`` (what the CLI is given) and ``run.log``.
The command is ``python -m genomefactory COMMAND config.yaml`` (the same entry point as ``genomefactory-cli``)
with the workspace as working directory, in its own process group so Stop ends it and its children.
When a run ends its ``config.yaml`` is also copied into the command's output folder (not before: the trainer
refuses to start in a non-empty folder).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import atomic_write_text

__all__ = ["Run", "RunManager", "progress_of", "results_of"]

_COUNTER = itertools.count(1)
MAX_LINES = 5000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # tqdm's cursor moves between nested bars


@dataclass
class Run:
    id: str
    command: str
    run_dir: Path
    output_dir: Path | None
    status: str = "queued"  # queued | running | stopping | finished | failed | stopped
    returncode: int | None = None
    lines: list[str] = field(default_factory=list)
    started: float | None = None
    ended: float | None = None
    proc: subprocess.Popen[str] | None = None

    @property
    def config_path(self) -> Path:
        return self.run_dir / "config.yaml"

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed", "stopped")

    def log_tail(self, n: int = 300) -> str:
        return "\n".join(self.lines[-n:])


def progress_of(lines: list[str]) -> float | None:
    """Fraction done from the latest ``[k/n]`` line (benchmark cells) or tqdm percentage."""
    for line in reversed(lines[-200:]):
        m = re.search(r"^\[(\d+)/(\d+)\]", line)
        if m and int(m.group(2)) > 0:
            return int(m.group(1)) / int(m.group(2))
        m = re.search(r"(\d{1,3})%\|", line)
        if m:
            return min(int(m.group(1)), 100) / 100
    return None


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(obj, dict):
        return [row for k, v in obj.items() for row in _flatten(v, f"{prefix}{k}.")]
    value = f"{obj:.4f}" if isinstance(obj, float) else str(obj)
    return [(prefix.rstrip("."), value)]


def _mean_std(row: dict[str, Any], n: str) -> str:
    if row.get("mean") is None:
        return "None"
    std = f" ± {row['std']:.2f}" if row.get("std") is not None else ""
    return f"{row['mean']:.2f}{std} (n={row.get(n, '?')})"


def _aggregate_rows(agg: dict[str, Any]) -> list[tuple[str, str]]:
    """A benchmark's aggregate: mean ± std per suite, then per task, for each model × method."""
    rows = [
        (f"{r['suite']} | {r['model']} | {r['method']}", _mean_std(r, "n_seeds"))
        for r in agg.get("suites", [])
    ]
    rows += [
        (f"{r['suite']}/{r['task']} | {r['model']} | {r['method']} | {r['metric']}", _mean_std(r, "n"))
        for r in agg.get("tasks", [])
    ]
    return rows


def results_of(output_dir: Path | None, limit: int = 40) -> dict[str, Any]:
    """Metrics rows, images and output files of a finished run's folder."""
    out: dict[str, Any] = {"metrics": [], "images": [], "files": []}
    if output_dir is None or not output_dir.is_dir():
        return out
    for name in ("metrics.json", "aggregate.json", "summary.json"):
        p = output_dir / name
        if p.is_file():
            data = json.loads(p.read_text())
            rows = _aggregate_rows(data) if name == "aggregate.json" else _flatten(data)
            out["metrics"] = [r for r in rows if r[1] != "None"][:200]
            break
    files = [
        p
        for p in sorted(output_dir.rglob("*"))
        if p.is_file() and "checkpoint-" not in str(p) and not p.name.startswith(".")
    ]
    out["images"] = [str(p) for p in files if p.suffix == ".png"][:8]
    out["files"] = [str(p) for p in files][:limit]
    return out


class RunManager:
    """FIFO queue of runs executed by ``max_parallel`` worker threads."""

    def __init__(self, workspace: Path, max_parallel: int = 1, python: str = sys.executable) -> None:
        self.workspace = workspace
        self.python = python
        self.runs: dict[str, Run] = {}
        self._queue: queue.Queue[Run] = queue.Queue()
        self._lock = threading.Lock()
        for _ in range(max_parallel):
            threading.Thread(target=self._worker, daemon=True).start()

    def submit(self, command: str, yaml_text: str, output_dir: Path | None) -> Run:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(_COUNTER):03d}-{command}"
        run_dir = self.workspace / "webui_runs" / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", yaml_text)
        run = Run(run_id, command, run_dir, output_dir)
        with self._lock:
            self.runs[run_id] = run
        self._queue.put(run)
        return run

    def position(self, run: Run) -> int:
        queued = [r for r in self.runs.values() if r.status == "queued"]
        return queued.index(run) + 1 if run in queued else 0

    def stop(self, run_id: str | None) -> str:
        """Dequeue a queued run, or SIGTERM a running one's process group (SIGKILL after a grace period).

        A running run is ``stopping`` until its process has exited, then ``stopped``: the page never reports a
        stopped run whose process is still alive.
        """
        run = self.runs.get(run_id or "")
        if run is None:
            return "no run to stop"
        with self._lock:  # the worker starts the process and marks it running under the same lock
            if run.status == "queued":
                run.status, run.ended = "stopped", time.time()
                return f"{run.id}: removed from the queue"
            if run.status != "running" or run.proc is None:
                return f"{run.id}: already {run.status}"
            run.status = "stopping"
            proc = run.proc
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        threading.Thread(target=self._kill_later, args=(proc,), daemon=True).start()
        return f"{run.id}: stopping"

    def shutdown(self, grace: float = 10.0) -> int:
        """Stop every queued and running run and wait for their processes (the web UI is closing).

        Returns how many runs were stopped; no run outlives the server that started it."""
        with self._lock:
            active = [r for r in self.runs.values() if r.status in ("queued", "running")]
        # queued runs first: once a running one is stopped, its worker would otherwise start the next in line
        for run in sorted(active, key=lambda r: r.status != "queued"):
            self.stop(run.id)
        for run in active:
            if run.proc is not None:
                try:
                    run.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(run.proc.pid, signal.SIGKILL)
                    run.proc.wait()
        return len(active)

    @staticmethod
    def _kill_later(proc: subprocess.Popen[str], grace: float = 10.0) -> None:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _worker(self) -> None:
        while True:
            run = self._queue.get()
            self._execute(run)

    def _start(self, run: Run, cmd: list[str]) -> bool:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self._lock:  # so that stop() sees either a queued run or a running one with its process
            if run.status != "queued":  # stopped while it waited
                return False
            try:
                run.proc = subprocess.Popen(
                    cmd,
                    cwd=self.workspace,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    bufsize=1,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                run.lines.append(f"could not start {' '.join(cmd)}: {exc}")
                run.status, run.ended = "failed", time.time()
                return False
            run.status, run.started = "running", time.time()
        return True

    def _execute(self, run: Run) -> None:
        cmd = [self.python, "-m", "genomefactory", run.command, str(run.config_path)]
        if not self._start(run, cmd):
            return
        assert run.proc is not None and run.proc.stdout is not None
        with open(run.run_dir / "run.log", "w") as log:
            for line in run.proc.stdout:  # universal newlines: tqdm's \r updates arrive as lines
                text = _ANSI.sub("", line.rstrip("\n"))
                if text.strip():
                    run.lines.append(text)
                    del run.lines[:-MAX_LINES]
                    log.write(text + "\n")
                    log.flush()
        returncode = run.proc.wait()
        with self._lock:
            run.returncode, run.ended = returncode, time.time()
            run.status = (
                "stopped" if run.status == "stopping" else "finished" if returncode == 0 else "failed"
            )
        if (
            run.output_dir is not None
            and run.output_dir.is_dir()
            and not (run.output_dir / "config.yaml").exists()
        ):
            atomic_write_text(run.output_dir / "config.yaml", run.config_path.read_text())
