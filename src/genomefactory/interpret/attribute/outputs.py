"""What an ``attribute`` run writes: arrays (.npz), per-base tracks (Parquet), TF-MoDISco inputs, bigWig.

Every array is cut to the kept window: position ``j`` of an array is sequence position ``window_start + j``;
sequence ``n`` has ``lengths[n]`` kept positions (the rest of its row is zero padding). Shapes: one-hot and
hypothetical contributions ``(N, W, 4)`` (A, C, G, T; TF-MoDISco's layout for ``modiscolite.tfmodisco.TFMoDISco``),
contributions ``(N, W)`` (``onehot * hypothetical`` summed over bases). ``modisco/<method>/{ohe,shap}.npz`` hold
the same arrays as ``arr_0`` in the ``(N, 4, W)`` layout the ``modisco motifs -s ohe.npz -a shap.npz`` CLI reads.

Per-base tracks are in **sequence orientation** in the arrays and Parquet (``pos``) and in **reference
orientation** in bigWig and the Parquet ``ref_pos`` column: a ``-`` strand sequence's position ``i`` is reference
position ``end - 1 - i``. In bigWig, a reference base covered by several sequences gets the mean of their scores;
chromosome sizes are the largest interval end seen per chromosome (a bigWig needs sizes, not the genome).
Files are written atomically (temp file, then rename).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...io import atomic_path
from ..attrib import AttributionResult
from .inputs import Inputs

__all__ = ["Kept", "cut", "write_arrays", "write_bigwig", "write_modisco", "write_tables"]


@dataclass
class Kept:
    """One method's attributions cut to the kept window."""

    method: str
    hypothetical: np.ndarray  # (N, W, 4)
    contribution: np.ndarray  # (N, W)
    f_x: np.ndarray  # (N,)
    extra: dict[str, np.ndarray]
    notes: dict[str, object]


def kept_lengths(seqs: list[str], lo: int, hi: int | None) -> np.ndarray:
    return np.array([min(len(s), hi if hi is not None else len(s)) - lo for s in seqs], dtype=np.int64)


def cut(res: AttributionResult, lengths: np.ndarray, lo: int) -> Kept:
    width = int(lengths.max())
    hyp = np.zeros((len(lengths), width, 4), dtype=np.float32)
    con = np.zeros((len(lengths), width), dtype=np.float32)
    for n, k in enumerate(lengths):
        hyp[n, :k] = res.hypothetical[n, lo : lo + k]
        con[n, :k] = res.contribution[n, lo : lo + k]
    extra = {}
    for key, arr in res.extra.items():
        if arr.ndim >= 2 and arr.shape[1] == res.contribution.shape[1]:  # per-position arrays are cut too
            part = np.zeros((len(lengths), width, *arr.shape[2:]), dtype=arr.dtype)
            for n, k in enumerate(lengths):
                part[n, :k] = arr[n, lo : lo + k]
            extra[key] = part
        else:
            extra[key] = arr
    return Kept(res.method, hyp, con, res.f_x, extra, dict(res.notes))


def _class_labels(labels: list[str | None]) -> np.ndarray | None:
    """The inputs' labels as integer classes (N,), or None when some are missing or not integers (regression)."""
    out = []
    for lab in labels:
        try:
            value = float(lab) if lab is not None else float("nan")
        except ValueError:
            return None
        if not value.is_integer():
            return None
        out.append(int(value))
    return np.array(out, dtype=np.int64) if out else None


def write_arrays(
    path: Path, inputs: Inputs, onehot: np.ndarray, lengths: np.ndarray, lo: int, kept: list[Kept]
) -> None:
    arrays: dict[str, np.ndarray] = {
        "ids": np.array(inputs.ids),
        "lengths": lengths,
        "window_start": np.array(lo),
        "onehot": onehot,
    }
    classes = _class_labels(inputs.labels)
    if classes is not None:  # what `motifs` contrasts: which patterns are enriched in the target class
        arrays["labels"] = classes
    for k in kept:
        arrays[f"{k.method}.hypothetical"] = k.hypothetical
        arrays[f"{k.method}.contribution"] = k.contribution
        arrays[f"{k.method}.f_x"] = k.f_x
        for key, arr in k.extra.items():
            arrays[f"{k.method}.{key}"] = arr
    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


def write_modisco(folder: Path, onehot: np.ndarray, kept: list[Kept]) -> dict[str, Path]:
    out = {}
    for k in kept:
        d = folder / k.method
        for name, arr in (("ohe", onehot), ("shap", k.hypothetical)):
            with atomic_path(d / f"{name}.npz", ".npz") as tmp, open(tmp, "wb") as fh:
                np.savez_compressed(fh, np.ascontiguousarray(arr.transpose(0, 2, 1)))
        out[k.method] = d
    return out


def write_tables(folder: Path, inputs: Inputs, lengths: np.ndarray, lo: int, kept: list[Kept]) -> None:
    """``tracks.parquet`` (one row per kept base) and ``sequences.parquet`` (one row per sequence)."""
    n_rows = int(lengths.sum())
    seq_idx = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.concatenate([np.arange(lo, lo + k) for k in lengths])
    cols: dict[str, object] = {
        "id": np.array(inputs.ids, dtype=object)[seq_idx],
        "pos": pos,
        "base": [inputs.sequences[n][p] for n, p in zip(seq_idx, pos, strict=True)],
    }
    if inputs.intervals is not None:
        iv = inputs.intervals
        cols["chrom"] = [iv[n].chrom for n in seq_idx]
        cols["strand"] = [iv[n].strand for n in seq_idx]
        cols["ref_pos"] = np.concatenate(
            [np.array(iv[n].ref_positions(lo, lo + int(k)), dtype=np.int64) for n, k in enumerate(lengths)]
        )
    for k in kept:
        cols[k.method] = np.concatenate([k.contribution[n, :m] for n, m in enumerate(lengths)]).astype(
            np.float64
        )
    tracks = pd.DataFrame(cols)
    assert len(tracks) == n_rows
    seq_cols: dict[str, object] = {
        "id": inputs.ids,
        "length": [len(s) for s in inputs.sequences],
        "kept": lengths,
        "label": inputs.labels,
    }
    if inputs.intervals is not None:
        for key in ("chrom", "start", "end", "strand"):
            seq_cols[key] = [getattr(i, key) for i in inputs.intervals]
    for k in kept:
        seq_cols[f"{k.method}_f_x"] = k.f_x
        seq_cols[f"{k.method}_sum"] = k.contribution.sum(1).astype(np.float64)
    for name, frame in (("tracks", tracks), ("sequences", pd.DataFrame(seq_cols))):
        with atomic_path(folder / f"{name}.parquet", ".parquet") as tmp:
            frame.to_parquet(tmp, index=False)


def write_bigwig(path: Path, inputs: Inputs, lengths: np.ndarray, lo: int, k: Kept) -> None:
    """One bigWig of ``k``'s per-base contributions at reference coordinates (overlaps averaged)."""
    import pyBigWig

    assert inputs.intervals is not None
    sums: dict[str, dict[int, list[float]]] = {}
    sizes: dict[str, int] = {}
    for n, iv in enumerate(inputs.intervals):
        m = int(lengths[n])
        acc = sums.setdefault(iv.chrom, {})
        sizes[iv.chrom] = max(sizes.get(iv.chrom, 0), iv.end)
        for ref, v in zip(iv.ref_positions(lo, lo + m), k.contribution[n, :m], strict=True):
            slot = acc.setdefault(ref, [0.0, 0.0])
            slot[0] += float(v)
            slot[1] += 1.0
    chroms = sorted(sizes)
    with atomic_path(path, ".bw") as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        try:
            bw.addHeader([(c, sizes[c]) for c in chroms])
            for c in chroms:
                starts = sorted(sums[c])
                if not starts:
                    continue
                values = [sums[c][s][0] / sums[c][s][1] for s in starts]
                bw.addEntries([c] * len(starts), starts, ends=[s + 1 for s in starts], values=values)
        finally:
            bw.close()
