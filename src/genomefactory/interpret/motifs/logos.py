"""Sequence logos (``logomaker``) as PNG files: PPMs as information content (bits), CWMs as signed scores.

Matrices are ``(width, 4)`` in A, C, G, T order. Figures use matplotlib's Agg backend (no display needed) and
are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import missing_extra
from ...io import atomic_path

__all__ = ["information_content", "write_logo"]


def information_content(ppm: np.ndarray) -> np.ndarray:
    """(w, 4) PPM -> (w, 4) letter heights in bits: p * (2 - entropy of the column)."""
    p = np.clip(np.asarray(ppm, dtype=np.float64), 0.0, None)
    p = p / np.maximum(p.sum(1, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    return p * (2.0 - h)[:, None]  # type: ignore[no-any-return]


def write_logo(matrix: np.ndarray, path: str | Path, title: str = "", kind: str = "ppm") -> Path:
    """A logo of ``matrix`` (w, 4): ``kind='ppm'`` draws information content, ``'cwm'`` the values as given."""
    try:
        import logomaker
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import pandas as pd
    except ImportError as exc:
        raise missing_extra("motif logos", "logomaker", "motifs") from exc
    values = information_content(matrix) if kind == "ppm" else np.asarray(matrix, dtype=np.float64)
    frame = pd.DataFrame(values, columns=list("ACGT"))
    fig, ax = plt.subplots(figsize=(max(2.5, 0.35 * len(frame) + 1), 1.8))
    try:
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
        ax.set_ylabel("bits" if kind == "ppm" else "contribution")
        if kind == "ppm":
            ax.set_ylim(0, 2)
        ax.set_title(title, fontsize=8)
        fig.tight_layout()
        out = Path(path)
        with atomic_path(out, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=90)
    finally:
        plt.close(fig)
    return out
