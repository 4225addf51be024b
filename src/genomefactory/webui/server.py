"""Serving the Blocks app: uvicorn on our own socket, and every way the server ends stops its runs.

Gradio's ``launch()`` checks that the page answers on localhost before it returns and, when that check times out
on a loaded machine, raises "When localhost is not accessible, a shareable link must be created". We mount the
app on a FastAPI app (``gradio.mount_gradio_app``) and run uvicorn ourselves on a socket bound before start-up:
no self-check, the port is known at once (also port 0), and the signals are ours. SIGINT (Ctrl-C), SIGTERM
(``timeout``, systemd, schedulers) and SIGHUP (a closed terminal) stop every run at once and end the server
quietly within the grace period; a run also gets SIGTERM from the kernel if the server is killed outright
(see ``runner``).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from .runner import RunManager

__all__ = ["Served", "serve_app"]

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# the log boxes follow their tail unless the reader scrolled up (then they stay where the reader is)
FOLLOW_LOG_JS = """<script>
(() => {
  const follow = () => document.querySelectorAll("[id$='-log'] textarea").forEach((t) => {
    const n = String(t.value.length);
    if (t.dataset.gfLen !== n) {
      if (t.dataset.gfEnd !== "0") t.scrollTop = t.scrollHeight;
      t.dataset.gfLen = n;
    } else {
      t.dataset.gfEnd = t.scrollHeight - t.scrollTop - t.clientHeight < 40 ? "1" : "0";
    }
  });
  setInterval(follow, 250);
})();
</script>"""


def _uvicorn() -> Any:
    import uvicorn

    class Server(uvicorn.Server):  # type: ignore[misc]
        """uvicorn's server with our signal handling: stop the runs first, exit without re-raising."""

        manager: RunManager
        received: int | None = None

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # serve_app installs the handlers before it prints the address (no window without them)

        def on_signal(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit:
                self.force_exit = True  # a second Ctrl-C: do not wait for open connections
            self.should_exit, self.received = True, sig
            # a thread, not here: the handler must not wait for the manager's lock
            threading.Thread(target=self.manager.stop_all, daemon=True).start()

    return uvicorn, Server


@dataclass
class Served:
    """A server started with ``block=False`` (tests, notebooks): its URL, and ``close()``."""

    url: str
    manager: RunManager
    server: Any
    thread: threading.Thread

    def close(self, grace: float = 10.0) -> int:
        self.manager.shutdown(grace)
        self.server.should_exit = True
        self.thread.join(timeout=60)
        return 0


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def serve_app(
    app: Any, manager: RunManager, host: str, port: int, block: bool, ready_timeout: float = 300.0
) -> Served | int:
    """Serve ``app`` (a FastAPI app with the Blocks mounted). Blocking: returns how many runs the end stopped."""
    uvicorn, server_cls = _uvicorn()
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="on")
    server = server_cls(config)
    server.manager = manager
    if not block:
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + ready_timeout  # a condition, not a guess: started is set once serving
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            raise RuntimeError(f"the web UI server did not start on {url}")
        return Served(url, manager, server, thread)
    old = {s: signal.signal(s, server.on_signal) for s in SIGNALS}
    print(f"genomefactory web UI on {url} (Ctrl-C stops it and its runs)", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        stopped = manager.shutdown()
        if stopped:
            print(f"stopped {stopped} run(s) started from the web UI", flush=True)
    return stopped
