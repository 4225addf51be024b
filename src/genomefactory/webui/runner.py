"""Runs of the web UI: a FIFO queue of CLI subprocesses, their live logs, progress, stop, and state on disk.

The UI's own files live in its state folder ``<workspace>/webui_runs/<id>/``, never in a command's output folder
(the trainer refuses a non-empty one: a UI file there would block the corrected rerun): ``config.yaml`` (what the
CLI is given), ``run.log`` (the console as a terminal shows it) and ``run.json`` (command, status, process id,
outputs, times), from which a restarted page re-attaches. The command is ``python -m genomefactory COMMAND
config.yaml`` (the same entry point as ``genomefactory-cli``) with the workspace as working directory, in its own
process group so Stop ends it and its children; on Linux the process also receives SIGTERM if the server dies.
Files are created group-readable (umask 027 for the runs).
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import atomic_write_text
from .progress import Console, Progress

__all__ = ["STATE_DIR", "Run", "RunManager"]

_COUNTER = itertools.count(1)
MAX_LINES = 5000
STATE_DIR = "webui_runs"


@dataclass
class Run:
    id: str
    command: str
    run_dir: Path
    outputs: list[Path] = field(default_factory=list)
    status: str = "queued"  # queued | running | stopping | finished | failed | stopped
    returncode: int | None = None
    started: float | None = None
    ended: float | None = None
    proc: subprocess.Popen[bytes] | None = None
    progress: Progress = field(default_factory=Progress)
    console: Console | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)  # secrets for the process; never saved

    @property
    def config_path(self) -> Path:
        return self.run_dir / "config.yaml"

    @property
    def lines(self) -> list[str]:
        return self.console.lines if self.console is not None else []

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed", "stopped")

    def log_tail(self, n: int = 300) -> str:
        return "\n".join(self.lines[-n:])

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "status": self.status,
            "returncode": self.returncode,
            "pid": self.proc.pid if self.proc is not None else None,
            "outputs": [str(p) for p in self.outputs],
            "started": self.started,
            "ended": self.ended,
        }


def _libc_prctl() -> Any:
    try:
        return ctypes.CDLL(None).prctl  # looked up here: the forked child only calls it
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl() if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the server process dies, however it dies (Linux); outputs
    readable by the owner's group."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.umask(0o027)


class RunManager:
    """FIFO queue of runs executed by ``max_parallel`` worker threads."""

    def __init__(self, workspace: Path, max_parallel: int = 1, python: str = sys.executable) -> None:
        self.workspace = workspace
        self.python = python
        self.runs: dict[str, Run] = {}
        self._queue: queue.Queue[Run] = queue.Queue()
        self._lock = threading.Lock()
        self._closing = False
        self._stopped_at_end = 0
        for _ in range(max_parallel):
            threading.Thread(target=self._worker, daemon=True).start()

    def submit(
        self,
        command: str,
        yaml_text: str,
        outputs: list[Path] | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(_COUNTER):03d}-{command}"
        run_dir = self.workspace / STATE_DIR / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", yaml_text)
        run = Run(run_id, command, run_dir, list(outputs or []), env=dict(env or {}))
        with self._lock:
            self.runs[run_id] = run
        self._save(run)
        self._queue.put(run)
        return run

    def load_history(self) -> int:
        """Read back the runs an earlier server left in the state folder (to re-attach to their log and
        results); a run that was still active when that server ended is shown as stopped."""
        n = 0
        for state in sorted((self.workspace / STATE_DIR).glob("*/run.json")):
            try:
                info = json.loads(state.read_text())
            except (OSError, ValueError):
                continue
            if info.get("id") in self.runs or not isinstance(info.get("id"), str):
                continue
            run = Run(
                info["id"],
                str(info.get("command", "")),
                state.parent,
                [Path(p) for p in info.get("outputs", [])],
            )
            run.status = (
                info.get("status") if info.get("status") in ("finished", "failed", "stopped") else "stopped"
            )
            run.returncode, run.started, run.ended = (
                info.get("returncode"),
                info.get("started"),
                info.get("ended"),
            )
            run.console = Console(run.progress.feed, lambda _: None, MAX_LINES)
            with contextlib.suppress(OSError):
                run.console.feed((state.parent / "run.log").read_text(errors="replace"))
            self.runs[run.id] = run
            n += 1
        return n

    @staticmethod
    def _save(run: Run) -> None:
        with contextlib.suppress(OSError):
            atomic_write_text(run.run_dir / "run.json", json.dumps(run.state(), indent=1) + "\n")

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
                self._save(run)
                return f"{run.id}: removed from the queue"
            if run.status != "running" or run.proc is None:
                return f"{run.id}: already {run.status}"
            run.status = "stopping"
            proc = run.proc
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        threading.Thread(target=self._kill_later, args=(proc,), daemon=True).start()
        return f"{run.id}: stopping"

    def stop_all(self) -> int:
        """The server is ending: start no more runs, stop every queued and running one now (no waiting).

        Returns how many it stopped; safe to call more than once (a signal, then the server's exit)."""
        with self._lock:
            self._closing = True
            active = [r for r in self.runs.values() if r.status in ("queued", "running")]
        # queued runs first: once a running one is stopped, its worker would otherwise start the next in line
        for run in sorted(active, key=lambda r: r.status != "queued"):
            self.stop(run.id)
        with self._lock:
            self._stopped_at_end += len(active)
        return len(active)

    def shutdown(self, grace: float = 10.0) -> int:
        """Stop every run and wait for their processes (SIGKILL after ``grace``): the web UI is closing.

        Returns how many runs the end stopped; no run outlives the server that started it."""
        self.stop_all()
        with self._lock:
            procs = [r.proc for r in self.runs.values() if r.proc is not None]
        for proc in procs:
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return self._stopped_at_end

    @staticmethod
    def _kill_later(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
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
        env = {**os.environ, **run.env, "PYTHONUNBUFFERED": "1"}
        with self._lock:  # so that stop() sees either a queued run or a running one with its process
            if run.status != "queued":  # stopped while it waited
                return False
            if self._closing:
                run.status, run.ended = "stopped", time.time()
                return False
            try:
                run.proc = subprocess.Popen(
                    cmd,
                    cwd=self.workspace,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    bufsize=0,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                run.console = Console(lambda _: None, lambda _: None, MAX_LINES)
                run.console.feed(f"could not start {' '.join(cmd)}: {exc}\n")
                run.status, run.ended = "failed", time.time()
                self._save(run)
                return False
            run.status, run.started = "running", time.time()
        self._save(run)
        return True

    def _execute(self, run: Run) -> None:
        cmd = [self.python, "-m", "genomefactory", run.command, str(run.config_path)]
        with open(run.run_dir / "run.log", "w") as log:

            def final(line: str) -> None:
                log.write(line + "\n")
                log.flush()

            run.console = Console(run.progress.feed, final, MAX_LINES)
            if not self._start(run, cmd):
                return
            assert run.proc is not None and run.proc.stdout is not None
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            fd = run.proc.stdout.fileno()
            while chunk := os.read(fd, 65536):  # raw chunks: tqdm's \r redraws are seen as such
                run.console.feed(decoder.decode(chunk))
            run.console.feed(decoder.decode(b"", final=True))
            run.console.close()
        returncode = run.proc.wait()
        with self._lock:
            run.returncode, run.ended = returncode, time.time()
            run.status = (
                "stopped" if run.status == "stopping" else "finished" if returncode == 0 else "failed"
            )
        self._save(run)
