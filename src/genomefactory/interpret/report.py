"""Writing an interpretation: ``interpretation.json``, ``unit_correlations.csv`` and PNG figures.

Figures per readout (matplotlib, Agg backend, no display needed): ``<readout>_bars.png`` (Pearson r of the top
units, significant ones filled), ``<readout>_scatter.png`` (the best unit's activation against the readout) and
``<readout>_hist.png`` (activation histograms of the top three units over the sequences where they fire).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_path, atomic_write_json

__all__ = ["write_report"]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "readout"


def _figures(out: Path, name: str, info: dict[str, Any], z: np.ndarray, y: np.ndarray) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = info["top_units"]
    if not top:
        return []
    files = []
    slug = _slug(name)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(
        [str(u["unit"]) for u in top],
        [u["pearson_r"] for u in top],
        color=["tab:blue" if u["significant"] else "lightgray" for u in top],
    )
    ax.set(xlabel="latent unit", ylabel="Pearson r", title=f"{name}: top units (blue = significant)")
    files.append(_save(fig, out / f"{slug}_bars.png"))
    best = top[0]["unit"]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(z[:, best], y, s=4, alpha=0.5)
    ax.set(xlabel=f"unit {best} activation", ylabel=name, title=f"r = {top[0]['pearson_r']:+.2f}")
    files.append(_save(fig, out / f"{slug}_scatter.png"))
    fig, ax = plt.subplots(figsize=(5, 3))
    for u in top[:3]:
        a = z[:, u["unit"]]
        ax.hist(a[a > 0], bins=40, alpha=0.5, label=f"unit {u['unit']}")
    ax.set(xlabel="activation (where active)", ylabel="sequences")
    ax.legend()
    files.append(_save(fig, out / f"{slug}_hist.png"))
    plt.close("all")
    return files


def _save(fig: Any, dest: Path) -> str:
    fig.tight_layout()
    with atomic_path(dest, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return dest.name


def write_report(
    out: Path,
    report: dict[str, Any],
    per_unit: pd.DataFrame,
    z: np.ndarray,
    readouts: pd.DataFrame,
    figures: bool,
) -> Path:
    """Write everything under ``out``; returns the path of ``interpretation.json``."""
    out.mkdir(parents=True, exist_ok=True)
    tested = per_unit.dropna(subset=["pearson_r"])
    with atomic_path(out / "unit_correlations.csv", suffix=".csv") as tmp:
        tested.to_csv(tmp, index=False)
    if figures:
        for name, info in report["readouts"].items():
            info["figures"] = _figures(out, name, info, z, readouts[name].to_numpy(dtype=float))
    atomic_write_json(out / "interpretation.json", report)
    return out / "interpretation.json"
