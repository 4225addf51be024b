"""The trade-off plot (paper Figure 2): suite score against training throughput and peak memory.

One point per model × method (colour = model, marker = method), for the first suite of the sweep. Efficiency
comes from ``efficiency_csv`` when given (columns ``model, method, peak_mem_gb, throughput_ktok_s``, e.g. the
paper's Table 2; model names matched case- and punctuation-insensitively) and otherwise from what the sweep
measured: end-to-end throughput in K tokens/s (training tokens over the cell's wall clock, feature extraction
included; the training-loop figure where that was not measured), peak GPU memory (not measured on CPU). Labels
say what a point is: a model that is not pretrained is marked with its init, and the title gives the suite's
task count and the rows per split.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..io import atomic_path
from .published import read_efficiency

__all__ = ["plot_tradeoff"]

_MARKERS = {"full": "o", "lora": "s", "adapter": "^"}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _measured(agg: dict[str, Any], r: dict[str, Any]) -> tuple[float | None, float | None, str]:
    eff = next(e for e in agg["efficiency"] if (e["model"], e["method"]) == (r["model"], r["method"]))
    if eff.get("throughput_e2e_ktok_s") is not None:
        return eff["throughput_e2e_ktok_s"], eff["peak_mem_gb"], ""
    loop = eff.get("throughput_ktok_s")
    return loop, eff["peak_mem_gb"], (" (head only)" if eff.get("head_only") and loop is not None else "")


def _points(agg: dict[str, Any], efficiency_csv: Path | None) -> tuple[list[dict[str, Any]], str, str]:
    if not agg["suites"]:
        return [], "", ""
    suite = agg["suites"][0]["suite"]
    external: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    unit = "end-to-end throughput (K tokens/s, measured; feature extraction included)"
    if efficiency_csv is not None:
        df = read_efficiency(efficiency_csv)
        for _, r in df.iterrows():
            external[(_norm(r["model"]), str(r["method"]).lower())] = (
                r["throughput_ktok_s"],
                r["peak_mem_gb"],
            )
        unit = f"throughput (K tokens/s, from {efficiency_csv.name})"
    pts = []
    for r in agg["suites"]:
        if r["suite"] != suite or r["mean"] is None:
            continue
        note = ""
        if efficiency_csv is not None:
            tp, mem = external.get((_norm(r["model"]), r["method"]), (None, None))
        else:
            tp, mem, note = _measured(agg, r)
        init = "" if r["init"] == "pretrained" else f" [{r['init']}, not pretrained]"
        pts.append(
            {
                "label": f"{r['model']}{init} {r['method']}{note}",
                "model": r["model"],
                "method": r["method"],
                "score": r["mean"],
                "throughput": tp,
                "mem": mem,
            }
        )
    info = agg.get("suite_info", {}).get(suite, {})
    total = info.get("tasks_in_suite")
    scope = f"{suite}: {info.get('tasks_in_sweep', '?')}" + (f" of {total}" if total else "") + " tasks"
    rows = info.get("max_rows_per_split")
    scope += f", splits subsampled to ≤ {rows} rows" if rows else ", full splits"
    return pts, unit, scope


def plot_tradeoff(agg: dict[str, Any], efficiency_csv: Path | None, path: Path) -> Path | None:
    """Write the two-panel plot; ``None`` when no point has a throughput (nothing to draw)."""
    pts, unit, scope = _points(agg, efficiency_csv)
    pts = [p for p in pts if p["throughput"] is not None]
    if not pts:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    suite = scope.split(":")[0]
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
                p["label"],
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
        ax.set_ylabel(f"{suite} score (mean over the tasks scored)")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color="grey", marker=m, linestyle="", label=k) for k, m in _MARKERS.items()]
    axes[1].legend(handles=handles, loc="best", fontsize=8)
    fig.suptitle(f"Score vs. tuning efficiency ({scope})", fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
