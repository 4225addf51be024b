"""Synthetic per-base tasks with a planted signal (shared by the per-base tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def planted_windows(
    n: int, length: int, rng: np.random.Generator, purity: float = 0.85
) -> tuple[list[str], list[np.ndarray]]:
    """Windows of alternating segments (12-29 bases): class 1 segments GC-rich, class 0 AT-rich, each base drawn
    from its segment's pair with probability ``purity``. A base's class depends on its segment, not on its own
    letter (letter alone gives ~``purity`` accuracy): the model has to read the context."""
    seqs, labels = [], []
    for _ in range(n):
        lab = np.zeros(length, dtype=np.int64)
        pos, cls = 0, int(rng.integers(2))
        while pos < length:
            seg = int(rng.integers(12, 30))
            lab[pos : pos + seg] = cls
            cls, pos = 1 - cls, pos + seg
        rich = rng.random(length) < purity
        gc = rng.choice(list("GC"), length)
        at = rng.choice(list("AT"), length)
        seqs.append("".join(np.where((lab == 1) == rich, gc, at)))
        labels.append(lab)
    return seqs, labels


def write_task(dst: Path, rows: dict[str, int], length: int, seed: int = 0, regression: bool = False) -> Path:
    """A per-base task folder (train/dev/test.tsv: sequence, label = comma-separated per-base labels).
    Regression labels: the planted class plus 0.1 x the base's GC indicator."""
    rng = np.random.default_rng(seed)
    dst.mkdir(parents=True, exist_ok=True)
    for split, n in rows.items():
        seqs, labels = planted_windows(n, length, rng)
        if regression:
            text = [
                ",".join(f"{v + 0.1 * (b in 'GC'):.2f}" for v, b in zip(lab, s, strict=True))
                for s, lab in zip(seqs, labels, strict=True)
            ]
        else:
            text = [",".join(map(str, lab)) for lab in labels]
        pd.DataFrame({"sequence": seqs, "label": text}).to_csv(dst / f"{split}.tsv", sep="\t", index=False)
    return dst
