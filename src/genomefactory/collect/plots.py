"""GC and length histograms per class and split (PNG, headless matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_path
from ..sequence import gc_content


def histograms(
    out: Path, per_split: dict[str, tuple[list[str], np.ndarray]], names: dict[int, str]
) -> list[Path]:
    """Write ``gc_histogram.png`` and ``length_histogram.png``: one panel per split, one colour per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for metric, xlabel in (("gc", "GC fraction"), ("length", "length (bp)")):
        fig, axes = plt.subplots(1, len(per_split), figsize=(4 * len(per_split), 3), squeeze=False)
        for ax, (split, (seqs, labels)) in zip(axes[0], per_split.items(), strict=True):
            values = np.array([gc_content(s) if metric == "gc" else len(s) for s in seqs], dtype=float)
            # one set of bin edges for every class, so the bars of different classes are comparable
            edges = np.histogram_bin_edges(values, bins=30) if values.size else 30
            for lab, name in names.items():
                sel = values[labels == lab]
                if sel.size:
                    ax.hist(sel, bins=edges, alpha=0.5, label=f"{name} ({sel.size})")
            ax.set_title(split)
            ax.set_xlabel(xlabel)
            ax.legend(fontsize=6)
        fig.tight_layout()
        dest = out / f"{metric}_histogram.png"
        with atomic_path(dest, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=80, format="png")
        plt.close(fig)
        written.append(dest)
    return written
