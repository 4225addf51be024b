"""PWM scanning: FIMO hits (``memelite.fimo``) and per-sequence maximum log-odds scores, both strands.

One-hot input is ``(N, L, 4)`` (A, C, G, T; an all-zero row is padding or an ambiguous base and matches
nothing). Motifs are ``(4, width)`` probability matrices. The score of a window is FIMO's: the sum over columns
of ``log2(p + eps) - log2(0.25)`` (uniform background, ``eps = 1e-4``), so :func:`max_scores` and FIMO's
``score`` column agree; a FIMO *hit* is a window whose p-value is below ``threshold``. The reverse strand is
scanned with the reverse-complemented matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ...errors import missing_extra

__all__ = ["EPS", "fimo_hits", "log_odds", "max_scores"]

EPS = 1e-4


def log_odds(ppm: np.ndarray) -> np.ndarray:
    """(4, w) probabilities -> (4, w) log2 odds against a uniform background (FIMO's transform)."""
    return np.log2(np.asarray(ppm, dtype=np.float64) + EPS) - math.log2(0.25)


def fimo_hits(
    motifs: Mapping[str, np.ndarray], one_hot: np.ndarray, threshold: float = 1e-4
) -> dict[str, np.ndarray]:
    """For each motif, the indices of the sequences (rows of ``one_hot``) holding a hit; repeated per hit."""
    try:
        from memelite import fimo
    except ImportError as exc:
        raise missing_extra("FIMO motif scanning", "memelite", "motifs") from exc
    x = np.ascontiguousarray(np.asarray(one_hot, dtype=np.float32).transpose(0, 2, 1))  # (N, 4, L)
    names = list(motifs)
    frames = fimo({k: np.asarray(motifs[k], dtype=np.float64) for k in names}, x, threshold=threshold)
    return {k: f["sequence_name"].to_numpy(dtype=np.int64) for k, f in zip(names, frames, strict=True)}


def max_scores(ppm: np.ndarray, one_hot: np.ndarray) -> np.ndarray:
    """(N,) the best window score of ``ppm`` (4, w) in each sequence over both strands (-inf if shorter)."""
    pwm = log_odds(ppm)  # (4, w)
    w = pwm.shape[1]
    x = np.asarray(one_hot, dtype=np.float64)
    n, length, _ = x.shape
    if length < w:
        return np.full(n, -np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(x, w, axis=1)  # (N, L-w+1, 4, w)
    fwd = np.einsum("nlbw,bw->nl", windows, pwm)
    rev = np.einsum("nlbw,bw->nl", windows, pwm[::-1, ::-1])
    return np.maximum(fwd.max(1), rev.max(1))  # type: ignore[no-any-return]
