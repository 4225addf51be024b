"""The reverse link, unit -> motif: the windows where an SAE unit fires most, their PPM, a logo, TOMTOM matches.

Input: per-sequence token activations of one unit, ``(tokens,)`` arrays, with one token per base (character
tokenizers; special tokens already removed), and the sequences (upper-case ACGT). The ``top`` highest
activations (at most one per sequence, so one repetitive sequence cannot fill the set) are centred in windows of
``width`` bases (windows running past an end are skipped); their base counts give a (4, width) PPM (pseudocount
0.1 per base), matched with TOMTOM against the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError
from .database import BASES, MotifDB
from .match import Match, tomtom_matches

__all__ = ["UnitMotif", "unit_motif"]


@dataclass
class UnitMotif:
    unit: int
    ppm: np.ndarray  # (4, width)
    windows: list[tuple[int, int, float]]  # (sequence index, start, activation)
    matches: list[Match]
    logo: Path | None


def unit_motif(
    unit: int,
    activations: list[np.ndarray],
    sequences: list[str],
    db: MotifDB,
    width: int = 15,
    top: int = 100,
    logo_dir: str | Path | None = None,
) -> UnitMotif:
    if len(activations) != len(sequences):
        raise DataError(f"{len(activations)} activation rows for {len(sequences)} sequences")
    half = width // 2
    best = []
    for n, (a, s) in enumerate(zip(activations, sequences, strict=True)):
        if len(a) != len(s):
            raise DataError(
                f"sequence {n}: {len(a)} token activations for {len(s)} bases (one token per base needed)"
            )
        if len(a) and a.max() > 0:
            i = int(a.argmax())
            if i - half >= 0 and i - half + width <= len(s):
                best.append((float(a[i]), n, i - half))
    best.sort(reverse=True)
    best = best[:top]
    if not best:
        raise DataError(f"unit {unit} never fires away from the sequence ends; nothing to align")
    counts = np.full((4, width), 0.1)
    for _, n, start in best:
        for j, ch in enumerate(sequences[n][start : start + width]):
            if ch in BASES:
                counts[BASES.index(ch), j] += 1
    ppm = counts / counts.sum(0, keepdims=True)
    matches = tomtom_matches([ppm], db, top=5)[0]
    logo = None
    if logo_dir is not None:
        from .logos import write_logo

        head = f" ~ {matches[0].name} ({matches[0].id})" if matches else ""
        logo = write_logo(ppm.T, Path(logo_dir) / f"unit_{unit}.png", f"unit {unit}{head}")
    return UnitMotif(unit, ppm, [(n, a, v) for v, n, a in best], matches, logo)
