"""GC and length histograms per class and split (PNG, drawn with Pillow).

Pillow rather than matplotlib: the two figures are plain step-free bar histograms, and matplotlib's import plus
its layout and render passes cost ~0.8 s of CPU, ten times the rest of a 2.5 Mbp ``process`` run (benchmarks/
suite.py). Pillow (a matplotlib dependency, already installed) imports in ~40 ms and draws these in a few ms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path
from ..sequence import gc_content

# matplotlib's tab10, so the colours read as before
_COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
_W, _H = 320, 240  # one panel
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 10, 22, 36
_BINS = 30


def _fmt(x: float) -> str:
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.0f}"


def _panel(
    img: Any,
    draw: Any,
    font: Any,
    x0: int,
    title: str,
    xlabel: str,
    values: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str],
) -> None:
    from PIL import Image, ImageDraw

    ax0, ay0, ax1, ay1 = x0 + _LEFT, _TOP, x0 + _W - _RIGHT, _H - _BOTTOM
    draw.text((x0 + _W // 2, 4), title, fill="black", font=font, anchor="mt")
    draw.text(((ax0 + ax1) // 2, _H - 4), xlabel, fill="black", font=font, anchor="mb")
    # one set of bin edges for every class, so the bars of different classes are comparable
    edges = np.histogram_bin_edges(values, bins=_BINS) if values.size else np.linspace(0, 1, _BINS + 1)
    counts = {lab: np.histogram(values[labels == lab], bins=edges)[0] for lab in names}
    top = max((int(c.max()) for c in counts.values() if c.size), default=0) or 1
    span = float(edges[-1] - edges[0]) or 1.0
    px = ax0 + (edges - edges[0]) / span * (ax1 - ax0)
    legend_y = ay0 + 2
    for i, (lab, name) in enumerate(names.items()):
        n = int((labels == lab).sum())
        if not n:
            continue
        colour = _COLOURS[i % len(_COLOURS)]
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        ld = ImageDraw.Draw(layer)
        for b, c in enumerate(counts[lab]):
            if c:
                y = ay1 - c / top * (ay1 - ay0)
                ld.rectangle(
                    (int(px[b]), int(y), max(int(px[b + 1]) - 1, int(px[b])), ay1), fill=(*colour, 128)
                )
        text = f"{name[:18]} ({n})"
        lx = ax1 - 4 - int(draw.textlength(text, font=font))
        ld.rectangle((lx - 12, legend_y + 2, lx - 4, legend_y + 10), fill=(*colour, 128))
        img.alpha_composite(layer)
        draw.text((lx, legend_y), text, fill="black", font=font)
        legend_y += 12
    draw.rectangle((ax0, ay0, ax1, ay1), outline="black")
    for frac in (0.0, 0.5, 1.0):  # x ticks at both ends and the middle, y ticks at 0 and the top count
        x = ax0 + frac * (ax1 - ax0)
        draw.line((x, ay1, x, ay1 + 3), fill="black")
        draw.text((x, ay1 + 4), _fmt(float(edges[0]) + frac * span), fill="black", font=font, anchor="mt")
    draw.text((ax0 - 3, ay1), "0", fill="black", font=font, anchor="rm")
    draw.text((ax0 - 3, ay0), str(top), fill="black", font=font, anchor="rm")


def histograms(
    out: Path, per_split: dict[str, tuple[list[str], np.ndarray]], names: dict[int, str]
) -> list[Path]:
    """Write ``gc_histogram.png`` and ``length_histogram.png``: one panel per split, one colour per class."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    written = []
    for metric, xlabel in (("gc", "GC fraction"), ("length", "length (bp)")):
        img = Image.new("RGBA", (_W * max(len(per_split), 1), _H), (255, 255, 255, 255))
        draw = ImageDraw.Draw(img)
        for k, (split, (seqs, labels)) in enumerate(per_split.items()):
            values = np.array([gc_content(s) if metric == "gc" else len(s) for s in seqs], dtype=float)
            _panel(img, draw, font, k * _W, split, xlabel, values, np.asarray(labels), names)
        dest = out / f"{metric}_histogram.png"
        with atomic_path(dest, suffix=".png") as tmp:
            img.convert("RGB").save(tmp, format="PNG")
        written.append(dest)
    return written
