"""The trade-off plot (paper Figure 2): suite score against training throughput and peak memory.

One point per model × method (colour = model, marker = method), for the first suite of the sweep. Efficiency
comes from ``efficiency_csv`` when given (columns ``model, method, peak_mem_gb, throughput_ktok_s``, e.g. the
paper's Table 2; model names matched case- and punctuation-insensitively) and otherwise from what the sweep
measured: throughput in kilobases per second of training, peak GPU memory (not measured on CPU).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..io import atomic_path

__all__ = ["plot_tradeoff"]

_MARKERS = {"full": "o", "lora": "s", "adapter": "^"}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _points(agg: dict[str, Any], efficiency_csv: str | None) -> tuple[list[dict[str, Any]], str]:
    if not agg["suites"]:
        return [], ""
    suite = agg["suites"][0]["suite"]
    external: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    unit = "throughput (K tokens/s, measured)"
    if efficiency_csv:
        df = pd.read_csv(efficiency_csv)
        missing = {"model", "method", "peak_mem_gb", "throughput_ktok_s"} - set(df.columns)
        if missing:
            raise DataError(
                f"efficiency_csv {efficiency_csv}: missing column(s) {', '.join(sorted(missing))}"
            )
        for _, r in df.iterrows():
            external[(_norm(r["model"]), str(r["method"]).lower())] = (
                r["throughput_ktok_s"],
                r["peak_mem_gb"],
            )
        unit = f"throughput (ktok/s, {Path(efficiency_csv).name})"
    pts = []
    for r in agg["suites"]:
        if r["suite"] != suite or r["mean"] is None:
            continue
        if efficiency_csv:
            tp, mem = external.get((_norm(r["model"]), r["method"]), (None, None))
        else:
            eff = next(e for e in agg["efficiency"] if (e["model"], e["method"]) == (r["model"], r["method"]))
            tp, mem = eff.get("throughput_ktok_s"), eff["peak_mem_gb"]
        pts.append(
            {"model": r["model"], "method": r["method"], "score": r["mean"], "throughput": tp, "mem": mem}
        )
    return pts, f"{suite}|{unit}"


def plot_tradeoff(agg: dict[str, Any], efficiency_csv: str | None, path: Path) -> Path | None:
    """Write the two-panel plot; ``None`` when no point has a throughput (nothing to draw)."""
    pts, label = _points(agg, efficiency_csv)
    pts = [p for p in pts if p["throughput"] is not None]
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    suite, unit = label.split("|")
    models = list(dict.fromkeys(p["model"] for p in pts))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, xlabel in ((axes[0], "throughput", unit), (axes[1], "mem", "peak GPU memory (GB)")):
        drawn = [p for p in pts if p[key] is not None]
        for p in drawn:
            ax.scatter(
                p[key], p["score"], color=colours[p["model"]], marker=_MARKERS.get(p["method"], "x"), s=60
            )
            ax.annotate(
                f"{p['model']} {p['method']}",
                (p[key], p["score"]),
                fontsize=7,
                xytext=(4, 3),
                textcoords="offset points",
            )
        if not drawn:
            ax.text(
                0.5,
                0.5,
                "not measured\n(CPU run; set efficiency_csv)",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{suite} score (mean over tasks)")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color="grey", marker=m, linestyle="", label=k) for k, m in _MARKERS.items()]
    axes[1].legend(handles=handles, loc="best", fontsize=8)
    fig.suptitle("Score vs. tuning efficiency")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
