"""A run's console as the page shows it: carriage-return progress as one updating line, and its progress.

:class:`Console` takes the raw text a command writes (tqdm redraws its bar with ``\\r``; a line ends with
``\\n``) and keeps the lines a terminal would show: a redrawn bar replaces itself instead of adding a line per
update. :class:`Progress` follows the command's own steps: the first tqdm bar that has a total (the trainer's
steps; the evaluation bars that come and go inside it are not followed), or the ``[k/n]`` cells of a sweep, with
the running cell's bar filling the gap; it never goes backwards. Bars without a total (embedding: ``4800seq``)
give a count and a rate. The ETA is computed on our own clock from the fraction done.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

__all__ = ["Console", "Progress"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # tqdm's cursor moves between nested bars
_CELLS = re.compile(r"^\[(\d+)/(\d+)\]")
_BAR = re.compile(r"^(?P<desc>.*?)\s*\d{1,3}%\|.*?\|\s*(?P<k>\d+)/(?P<n>\d+) \[")
_COUNT = re.compile(r"^(?P<desc>[^:|]+): (?P<k>\d+)(?P<unit>[a-zA-Z]+) \[[\d:]+, *(?P<rate>[\d.]+|\?)")


class Console:
    """Lines of a run's output; ``on_final(line)`` gets each line once it can no longer change."""

    def __init__(self, on_line: Callable[[str], None], on_final: Callable[[str], None], keep: int) -> None:
        self.lines: list[str] = []
        self._cur: list[str] = []
        self._cr = False  # a \r was read; whether it starts a CRLF is known at the next character
        self._open = False  # the last line may still be redrawn (it ended with \r)
        self._on_line, self._on_final, self._keep = on_line, on_final, keep

    def feed(self, text: str) -> None:
        for ch in text:
            if self._cr:
                self._cr = False
                if ch == "\n":
                    self._emit(final=False)
                    self._emit(final=True)  # CRLF: the line just emitted is final
                    continue
                self._emit(final=False)
            if ch == "\r":
                self._cr = True
            elif ch == "\n":
                self._emit(final=True)
            else:
                self._cur.append(ch)

    def close(self) -> None:
        if self._cr:
            self._cr = False
            self._emit(final=False)
        self._emit(final=True)

    def _emit(self, final: bool) -> None:
        text = _ANSI.sub("", "".join(self._cur)).rstrip()
        self._cur = []
        if not text.strip():
            if final and self._open:
                self._open = False
                self._on_final(self.lines[-1])
            return
        if self._open:
            self.lines[-1] = text
        else:
            self.lines.append(text)
            del self.lines[: -self._keep]
        self._open = not final
        self._on_line(text)
        if final:
            self._on_final(text)


class Progress:
    """Fraction done (monotonic), a count for bars without a total, and an ETA."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.fraction: float | None = None
        self.count = ""
        self._bar: tuple[str, int] | None = None  # (description, total) of the followed bar
        self._bar_frac = 0.0
        self._cells: tuple[int, int] | None = None
        self._clock = clock
        self._t0 = clock()

    def feed(self, line: str) -> None:
        m = _CELLS.match(line)
        if m and int(m.group(2)) > 0:
            self._cells = (int(m.group(1)), int(m.group(2)))
            self._bar, self._bar_frac = None, 0.0  # the next cell's first bar is followed
            self._update()
            return
        m = _BAR.match(line)
        if m and int(m.group("n")) > 0:
            key = (m.group("desc").strip(), int(m.group("n")))
            if self._bar is None:
                self._bar = key
            if key == self._bar:
                self._bar_frac = min(int(m.group("k")) / key[1], 1.0)
                self._update()
            return
        m = _COUNT.match(line.strip())
        if m:
            rate = m.group("rate")
            unit = m.group("unit")
            self.count = f"{m.group('desc').strip()}: {m.group('k')} {unit}" + (
                f" ({float(rate):.0f} {unit}/s)" if rate != "?" else ""
            )

    def _update(self) -> None:
        if self._cells is not None:
            done, total = self._cells
            frac = min((done + (self._bar_frac if done < total else 0.0)) / total, 1.0)
        else:
            frac = self._bar_frac
        self.fraction = frac if self.fraction is None else max(self.fraction, frac)

    def eta_s(self) -> float | None:
        """Seconds left, extrapolated from the time taken so far (None before any progress)."""
        if not self.fraction or self.fraction >= 1.0:
            return None
        elapsed = self._clock() - self._t0
        return elapsed * (1.0 - self.fraction) / self.fraction

    def html(self) -> str:
        if self.fraction is None:
            return f"<span>{self.count}</span>" if self.count else ""
        eta = self.eta_s()
        left = f" — about {_duration(eta)} left" if eta is not None else ""
        return (
            f"<progress value='{self.fraction:.3f}' max='1'></progress> {100 * self.fraction:.0f}%{left}"
            + (f" · {self.count}" if self.count else "")
        )


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"
