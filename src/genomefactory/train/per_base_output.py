"""Writers of per-base predictions: a table with one track per sequence, and bigWig tracks on the reference.

Table (CSV): the caller's base columns, then ``prediction`` (comma-separated, one item per base: the argmax
class, or the value for regression) and, for classification, ``prob_0 .. prob_{k-1}`` (comma-separated softmax
probabilities per base, 4 decimals). Items are in the orientation of the input sequence; a base without an
output (cut off by truncation) is ``.``.

bigWig (``pyBigWig``): one value per reference base, 0-based half-open, from windows whose ``chrom``, ``start``
and ``strand`` are known: the value (regression) or the probability of one class (classification); a minus-strand
window's track is reversed into reference orientation; where windows overlap the values are averaged; bases no
window covers have no entry. Chromosome lengths are the largest window end per chromosome unless given.
Both files are written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io import atomic_path
from .metrics import softmax
from .task_types import is_regression

__all__ = ["base_tracks", "track_table", "write_bigwig", "write_track_table"]


def _fmt(values: np.ndarray, valid: np.ndarray, spec: str) -> str:
    return ",".join(
        format(v, spec) if ok else "." for v, ok in zip(values.tolist(), valid.tolist(), strict=True)
    )


def track_table(
    base: pd.DataFrame, logits: np.ndarray, base_mask: np.ndarray, lengths: list[int], task_type: str
) -> pd.DataFrame:
    """``base`` plus the per-base prediction columns; ``lengths`` = bases of each row's sequence."""
    table = base.copy()
    preds, probs = [], []
    for row, n in enumerate(lengths):
        valid = np.zeros(n, dtype=bool)
        m = min(n, logits.shape[1])
        valid[:m] = base_mask[row, :m] == 1
        z = np.zeros((n, logits.shape[2]))
        z[:m] = logits[row, :m]
        if is_regression(task_type):
            preds.append(_fmt(z[:, 0], valid, ".6g"))
            continue
        p = softmax(z)
        preds.append(_fmt(p.argmax(-1), valid, "d"))
        probs.append([_fmt(p[:, k], valid, ".4f") for k in range(p.shape[1])])
    table["prediction"] = preds
    if probs:
        for k in range(len(probs[0])):
            table[f"prob_{k}"] = [r[k] for r in probs]
    return table


def write_track_table(
    path: Path,
    base: pd.DataFrame,
    logits: np.ndarray,
    base_mask: np.ndarray,
    lengths: list[int],
    task_type: str,
) -> pd.DataFrame:
    table = track_table(base, logits, base_mask, lengths, task_type)
    with atomic_path(Path(path)) as tmp:
        table.to_csv(tmp, index=False)
    return table


def base_tracks(
    logits: np.ndarray, base_mask: np.ndarray, lengths: list[int], task_type: str, track_class: int
) -> list[np.ndarray]:
    """One float64 (length,) track per row: value or P(track_class); NaN where a base has no output."""
    out = []
    for row, n in enumerate(lengths):
        m = min(n, logits.shape[1])
        track = np.full(n, np.nan)
        z = logits[row, :m].astype(np.float64)
        values = z[:, 0] if is_regression(task_type) else softmax(z)[:, track_class]
        track[:m] = np.where(base_mask[row, :m] == 1, values, np.nan)
        out.append(track)
    return out


def write_bigwig(
    path: Path, coords: pd.DataFrame, tracks: list[np.ndarray], chrom_sizes: dict[str, int] | None = None
) -> int:
    """Write ``tracks`` (input orientation) onto the reference; returns the number of bases written."""
    import pyBigWig

    if coords is None or not {"chrom", "start"} <= set(coords.columns):
        raise DataError("a bigWig needs each window's chrom and start (columns chrom, start[, strand])")
    sizes = dict(chrom_sizes or {})
    ends = coords["start"].to_numpy(dtype=np.int64) + np.asarray([len(t) for t in tracks])
    for chrom, end in zip(coords["chrom"].astype(str), ends, strict=True):
        sizes[chrom] = max(sizes.get(chrom, 0), int(end))
    total, count = {c: np.zeros(n) for c, n in sizes.items()}, {c: np.zeros(n) for c, n in sizes.items()}
    strands = coords["strand"] if "strand" in coords.columns else pd.Series(["+"] * len(coords))
    for chrom, start, strand, track in zip(
        coords["chrom"].astype(str), coords["start"].astype(int), strands, tracks, strict=True
    ):
        values = track[::-1] if strand == "-" else track  # reference orientation
        ok = np.isfinite(values)
        total[chrom][start : start + len(values)][ok] += values[ok]
        count[chrom][start : start + len(values)][ok] += 1
    written = 0
    with atomic_path(Path(path), suffix=".bw") as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        names = sorted(sizes)
        bw.addHeader([(c, int(sizes[c])) for c in names])
        for c in names:
            pos = np.flatnonzero(count[c] > 0)
            if pos.size:
                vals = total[c][pos] / count[c][pos]
                bw.addEntries(c, pos.astype(np.int64).tolist(), values=vals.tolist(), span=1)
                written += int(pos.size)
        bw.close()
    return written
