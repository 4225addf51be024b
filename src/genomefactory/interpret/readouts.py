"""Readouts: one number per sequence, to relate to SAE latent units.

Built-in readouts are computed from the upper-case IUPAC sequence:
- ``length`` (bases) and ``gc`` (G+C among unambiguous bases);
- ``motif``: overlapping occurrences of an IUPAC motif (an ``N`` in the motif matches any base; a sequence base
  matches a motif position only if it is one of the bases the position allows), on both strands by default
  (a palindromic site is counted once per strand);
- ``pwm``: hits of a JASPAR position frequency matrix, scored as log2 odds against a uniform background with a
  pseudocount of 0.8 per base spread over the four bases; a window is a hit when its relative score
  ``(s - min) / (max - min)`` is at least ``threshold``; ambiguous bases score 0;
- ``kmer``: frequency of every k-mer (one readout per k-mer, ``kmer:ACG``), k-mers with ambiguity codes skipped;
- ``jaspar``: a JASPAR motif (by matrix id or TF name, from the release shipped with ``pyjaspar``) scanned with
  FIMO (``memelite``) on both strands: ``presence`` (a hit with p < ``p_threshold``), ``count`` of hits or the
  ``max_score`` (best log-odds window); named ``CTCF (MA0139.2) presence`` so a unit is reported by its JASPAR id
  (see :mod:`genomefactory.interpret.motifs.readouts`);
- ``column``: any column of the embeddings file (metadata carried from the input CSV) or of ``readouts_csv``;
  a non-numeric column becomes 0/1 indicators (one per class, or one for the second class when there are two).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, UserFileNotFoundError
from ..sequence import IUPAC_EXPANSION, gc_content, kmer_counts, reverse_complement
from .config import ReadoutSpec

__all__ = ["compute_readouts", "count_motif", "count_pwm_hits", "read_jaspar"]

_BASES = "ACGT"


def _motif_regex(motif: str) -> re.Pattern[str]:
    m = motif.strip().upper()
    bad = [c for c in m if c not in IUPAC_EXPANSION]
    if not m or bad:
        raise DataError(f"readout motif {motif!r}: not an IUPAC DNA motif (bad characters {bad})")
    body = "".join(
        IUPAC_EXPANSION[c] if len(IUPAC_EXPANSION[c]) == 1 else f"[{IUPAC_EXPANSION[c]}]" for c in m
    )
    return re.compile(f"(?=({body}))")


def count_motif(seq: str, motif: str, both_strands: bool = True) -> int:
    rx = _motif_regex(motif)
    n = sum(1 for _ in rx.finditer(seq))
    if both_strands:
        n += sum(1 for _ in rx.finditer(reverse_complement(seq)))
    return n


def read_jaspar(path: str | Path) -> np.ndarray:
    """A JASPAR (or plain 4-row) frequency matrix -> (4, width) counts in A, C, G, T order."""
    p = Path(path)
    if not p.is_file():
        raise UserFileNotFoundError(f"PWM file {p} not found")
    rows: dict[str, list[float]] = {}
    plain: list[list[float]] = []
    for line_no, line in enumerate(p.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(">"):
            continue
        m = re.match(r"^([ACGT])\s*\[(.*)\]$", line)
        try:
            if m:
                rows[m.group(1)] = [float(v) for v in m.group(2).split()]
            else:
                plain.append([float(v) for v in line.split()])
        except ValueError as exc:
            raise DataError(f"{p} line {line_no}: not a JASPAR matrix row ({line!r})") from exc
    mat = [rows[b] for b in _BASES] if len(rows) == 4 else plain
    if len(mat) != 4 or len({len(r) for r in mat}) != 1 or not mat[0]:
        raise DataError(f"{p}: expected 4 rows (A, C, G, T) of equal length; found {len(mat)} rows")
    return np.asarray(mat, dtype=np.float64)


def _log_odds(counts: np.ndarray, pseudo: float = 0.8) -> np.ndarray:
    freq = (counts + pseudo / 4) / (counts.sum(0, keepdims=True) + pseudo)
    return np.log2(freq / 0.25)


def count_pwm_hits(seq: str, counts: np.ndarray, threshold: float = 0.8, both_strands: bool = True) -> int:
    pwm = _log_odds(counts)
    width = pwm.shape[1]
    lo, hi = pwm.min(0).sum(), pwm.max(0).sum()
    total = 0
    for s in (seq, reverse_complement(seq)) if both_strands else (seq,):
        if len(s) < width:
            continue
        codes = np.frombuffer(s.encode(), dtype=np.uint8)
        onehot = np.stack([codes == ord(b) for b in _BASES], axis=1).astype(np.float64)  # (L, 4)
        windows = np.lib.stride_tricks.sliding_window_view(onehot, (width, 4))[:, 0]  # (L-w+1, w, 4)
        scores = np.einsum("lwb,bw->l", windows, pwm)
        total += int(np.count_nonzero((scores - lo) / (hi - lo) >= threshold))
    return total


def _categorical(name: str, values: pd.Series) -> pd.DataFrame:
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        return pd.DataFrame({name: numeric.astype(float)})
    classes = sorted(values.astype(str).unique())
    if len(classes) < 2:
        raise DataError(f"readout column {name!r} has a single value ({classes}); nothing to relate")
    pick = classes[1:] if len(classes) == 2 else classes
    return pd.DataFrame({f"{name}={c}": (values.astype(str) == c).astype(float) for c in pick})


def _sequences(frame: pd.DataFrame, spec: ReadoutSpec) -> list[str]:
    if "sequence" not in frame.columns:
        raise DataError(f"readout kind {spec.kind!r} needs the sequences; embed with keep_sequence: true")
    return [str(s) for s in frame["sequence"]]


def _one(frame: pd.DataFrame, spec: ReadoutSpec, extra: pd.DataFrame | None) -> pd.DataFrame:
    if spec.kind == "length":
        values = (
            frame["length"]
            if "length" in frame.columns
            else pd.Series([len(s) for s in _sequences(frame, spec)])
        )
        return pd.DataFrame({spec.name or "length": values.astype(float).to_numpy()})
    if spec.kind == "gc":
        return pd.DataFrame({spec.name or "gc": [gc_content(s) for s in _sequences(frame, spec)]})
    if spec.kind == "motif":
        if not spec.motif:
            raise DataError("readout kind 'motif' needs `motif` (an IUPAC string such as TATAWAWR)")
        seqs = _sequences(frame, spec)
        return pd.DataFrame(
            {
                spec.name or f"motif:{spec.motif}": [
                    count_motif(s, spec.motif, spec.both_strands) for s in seqs
                ]
            }
        )
    if spec.kind == "pwm":
        if not spec.pwm_file:
            raise DataError("readout kind 'pwm' needs `pwm_file` (a JASPAR matrix)")
        counts = read_jaspar(spec.pwm_file)
        name = spec.name or f"pwm:{Path(spec.pwm_file).stem}"
        seqs = _sequences(frame, spec)
        return pd.DataFrame(
            {name: [count_pwm_hits(s, counts, spec.threshold, spec.both_strands) for s in seqs]}
        )
    if spec.kind == "jaspar":
        from .motifs.readouts import jaspar_readout

        return jaspar_readout(_sequences(frame, spec), spec)
    if spec.kind == "kmer":
        kmers = ["".join(p) for p in itertools.product(_BASES, repeat=spec.k)]
        rows = []
        for s in _sequences(frame, spec):
            c = kmer_counts(s, spec.k)
            total = max(sum(c.values()), 1)
            rows.append([c.get(k, 0) / total for k in kmers])
        return pd.DataFrame(rows, columns=[f"kmer:{k}" for k in kmers])
    return _column(frame, spec, extra)


def _column(frame: pd.DataFrame, spec: ReadoutSpec, extra: pd.DataFrame | None) -> pd.DataFrame:
    col = spec.column
    if not col:
        raise DataError(
            "readout kind 'column' needs `column` (a column of the embeddings file or readouts_csv)"
        )
    if col in frame.columns:
        values = frame[col]
    elif extra is not None and col in extra.columns:
        joined = frame[["id"]].astype(str).merge(extra[["id", col]].astype({"id": str}), on="id", how="left")
        values = joined[col]
    else:
        have = [c for c in frame.columns if c != "sequence"] + (
            list(extra.columns) if extra is not None else []
        )
        raise DataError(f"readout column {col!r} not found; available columns: {', '.join(map(str, have))}")
    if values.isna().any():
        bad = frame["id"][values.isna().to_numpy()].head(3).tolist()
        raise DataError(
            f"readout column {col!r} is missing for {int(values.isna().sum())} sequences "
            f"(e.g. ids {bad}); fill or drop them"
        )
    return _categorical(spec.name or col, values.reset_index(drop=True))


def compute_readouts(
    frame: pd.DataFrame, specs: list[ReadoutSpec], extra_csv: str | None = None
) -> pd.DataFrame:
    """(sequences, readouts) float table, rows in the order of ``frame``."""
    extra = None
    if extra_csv:
        if not Path(extra_csv).is_file():
            raise UserFileNotFoundError(f"readouts_csv {extra_csv} not found")
        extra = pd.read_csv(extra_csv, dtype={"id": str})
        if "id" not in extra.columns:
            raise DataError(f"{extra_csv}: needs an `id` column matching the embedding ids")
    parts = [_one(frame.reset_index(drop=True), s, extra) for s in specs]
    out = pd.concat(parts, axis=1)
    dup = out.columns[out.columns.duplicated()].tolist()
    if dup:
        raise DataError(f"readout names {dup} occur twice; give the readouts distinct `name`s")
    return out
