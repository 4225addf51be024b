"""The ``attribute`` report: ``report.md`` and ``report.html`` with attribution plots of the top sequences.

Top sequences = the largest explained score ``f(x)`` of the first method (the most confident calls of the
target class, or the highest regression outputs). Each plot has one row per method: the observed base's
contribution drawn as a sequence logo (letter height = contribution, below the axis when negative; logomaker),
and, for ISM, a heat map of the (position x base) effects. A profile plot shows the mean |contribution| per
position over all sequences, per method. Plots are PNG (matplotlib, Agg backend).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from ...io import atomic_path, atomic_write_text
from .config import AttributeConfig
from .inputs import Inputs
from .outputs import Kept

__all__ = ["write_report"]


def _logo(ax: Any, values: np.ndarray, lo: int) -> None:
    """(L, 4) letter heights as a logo at positions lo.. ; a bar plot of the row sums without logomaker."""
    where = np.arange(lo, lo + len(values))
    try:
        import logomaker
        import pandas as pd
    except ImportError:  # logomaker is optional (extra `attrib`)
        ax.bar(where, values.sum(1), width=1.0, color="0.3")
        return
    logomaker.Logo(pd.DataFrame(values, columns=list("ACGT"), index=where), ax=ax, color_scheme="classic")


def _sequence_plot(
    path: Path, n: int, name: str, onehot: np.ndarray, length: int, lo: int, kept: list[Kept]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(kept) + (1 if any(k.method == "ism" for k in kept) else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(min(2 + length * 0.12, 40), 1.8 * rows), squeeze=False)
    r = 0
    for k in kept:
        ax = axes[r, 0]
        _logo(ax, onehot[n, :length] * k.contribution[n, :length, None], lo)
        ax.set_ylabel(k.method.replace("_", "\n"), fontsize=7)
        ax.axhline(0, color="0.6", lw=0.5)
        r += 1
    for k in kept:
        if k.method == "ism" and "ism_delta" in k.extra:
            ax = axes[r, 0]
            d = k.extra["ism_delta"][n, :length].T
            lim = float(np.abs(d).max()) or 1.0
            ext = (lo - 0.5, lo + length - 0.5, 3.5, -0.5)
            ax.imshow(
                d, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest", extent=ext
            )
            ax.set_yticks(range(4), list("ACGT"))
            ax.set_ylabel("ISM\nf(mut)-f(x)", fontsize=7)
    ticks = lo + np.linspace(0, length - 1, min(length, 8)).astype(int)
    for ax in axes[:, 0]:
        ax.set_xlim(lo - 0.5, lo + length - 0.5)
        ax.set_xticks(ticks)
    axes[-1, 0].set_xlabel("position in sequence (0-based)")
    fig.suptitle(name, fontsize=9)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def _profile_plot(path: Path, lengths: np.ndarray, lo: int, kept: list[Kept]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.6))
    width = int(lengths.max())
    count = (np.arange(width)[None, :] < lengths[:, None]).sum(0).clip(min=1)
    for k in kept:
        prof = np.abs(k.contribution).sum(0) / count
        ax.plot(np.arange(lo, lo + width), prof / (prof.max() or 1.0), label=k.method, lw=1)
    ax.set_xlabel("position in sequence (0-based)")
    ax.set_ylabel("mean |contribution|\n(scaled to max 1)", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def write_report(
    out: Path,
    cfg: AttributeConfig,
    inputs: Inputs,
    onehot: np.ndarray,
    lengths: np.ndarray,
    lo: int,
    kept: list[Kept],
    model: dict[str, object],
) -> dict[str, str]:
    """Write the plots, ``report.md`` and ``report.html``; return {file: what it is}."""
    order = np.argsort(-kept[0].f_x, kind="stable")[: cfg.report_top]
    plots = out / "plots"
    _profile_plot(plots / "profile.png", lengths, lo, kept)
    md = [
        "# Attribution report",
        "",
        f"Run: `{cfg.run_dir}` ({model['task_type']}, {model['num_labels']} outputs"
        + (f", explained: log-odds of class {model['target']}" if model["task_type"] != "regression" else "")
        + f"). Input: `{inputs.path}`, {len(lengths)} sequences, kept positions from {lo}"
        + (f" to {cfg.window_end}" if cfg.window_end else "")
        + f". Coordinates: {inputs.coordinates_from or 'none (no bigWig)'}.",
        "",
        "| method | mean f(x) | mean abs contribution | notes |",
        "|---|---|---|---|",
    ]
    for k in kept:
        notes = "; ".join(f"{a}: {b}" for a, b in k.notes.items() if b is not None)
        md.append(f"| {k.method} | {k.f_x.mean():.4g} | {np.abs(k.contribution).mean():.4g} | {notes} |")
    md += [
        "",
        "## Mean |contribution| per position",
        "",
        "![profile](plots/profile.png)",
        "",
        "## Top sequences",
    ]
    for rank, n in enumerate(order, 1):
        name = f"{rank}. {inputs.ids[n]}"
        if inputs.labels[n] is not None:
            name += f" (label {inputs.labels[n]})"
        if inputs.intervals is not None and inputs.coordinates_from == "bed":
            iv = inputs.intervals[n]
            name += f" {iv.chrom}:{iv.start}-{iv.end}({iv.strand})"
        png = f"plots/top{rank}.png"
        _sequence_plot(out / png, int(n), name, onehot, int(lengths[n]), lo, kept)
        scores = ", ".join(f"{k.method} f(x) = {k.f_x[n]:.4g}" for k in kept)
        md += ["", f"### {name}", "", scores, "", f"![{inputs.ids[n]}]({png})"]
    text = "\n".join(md) + "\n"
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "report.html", _html(text))
    return {"report.md": "report (Markdown)", "report.html": "report (HTML)", "plots/": "PNG plots"}


def _html(md: str) -> str:
    """A small Markdown -> HTML for the report's own constructs (headings, tables, images, paragraphs)."""
    body: list[str] = []
    table: list[list[str]] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                table.append(cells)
            continue
        if table:
            head, *rows = table
            body.append(
                "<table><tr>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                + "</table>"
            )
            table = []
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            body.append(f'<p><img src="{html.escape(src.rstrip(")"))}" alt="{html.escape(alt)}"></p>')
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('`', '')}</p>")
    style = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
    style += "td,th{border:1px solid #ccc;padding:3px 8px}img{max-width:100%}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
