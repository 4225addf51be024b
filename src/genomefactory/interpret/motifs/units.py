"""The reverse link, unit -> motif: the windows where an SAE unit fires most, their PPM, a logo, TOMTOM matches.

Input: per-sequence token activations of one unit, ``(tokens,)`` arrays, with one token per base (character
tokenizers; special tokens already removed), and the sequences (upper-case ACGT). The ``top`` highest
activations (at most one per sequence, so one repetitive sequence cannot fill the set) are centred in windows of
``width`` bases (windows running past an end are skipped); their base counts give a (4, width) PPM (pseudocount
0.1 per base), matched with TOMTOM against the database.

:func:`describe_units` does it for the top units of an ``sae_regression`` run and returns JSON-ready records
(windows with their sequence ids and 0-based half-open starts on the sequence as stored, logo path relative to
the output directory, matches with TOMTOM p- and q-values) and a *site check* of the best match: TOMTOM scores
the averaged PPM only, and a weak, GC-rich PPM of windows with no motif can still match a GC-rich motif with a
small q. So the best match's FIMO sites (p < 1e-4) are counted in the unit's windows (extended by half the
motif's width on each side) and in as many random windows of the same sequences (seeded); a one-sided Fisher
test says whether the windows really hold that motif more often (``supported``: p < 0.05).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from .database import BASES, MotifDB
from .match import Match, tomtom_matches

__all__ = ["UnitMotif", "describe_units", "unit_motif"]


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
    top_matches: int = 5,
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
    matches = tomtom_matches([ppm], db, top=top_matches)[0]
    logo = None
    if logo_dir is not None:
        from .logos import write_logo

        head = f" ~ {matches[0].name} ({matches[0].id})" if matches else ""
        logo = write_logo(ppm.T, Path(logo_dir) / f"unit_{unit}.png", f"unit {unit}{head}")
    return UnitMotif(unit, ppm, [(n, a, v) for v, n, a in best], matches, logo)


def site_check(
    motif: np.ndarray, windows: list[tuple[int, int, float]], sequences: list[str], width: int, seed: int = 0
) -> dict[str, Any]:
    """FIMO sites of ``motif`` (4, w) in the unit's windows vs random windows of the same sequences."""
    from scipy import stats

    from .readouts import motif_values

    rng = np.random.default_rng(seed)
    pad = motif.shape[1] // 2

    def seg(n: int, a: int) -> str:
        return sequences[n][max(0, a - pad) : a + width + pad]

    hits = motif_values(motif, [seg(n, a) for n, a, _ in windows], "presence", 1e-4)
    rand = [seg(n, int(rng.integers(0, len(sequences[n]) - width + 1))) for n, _, _ in windows]
    base = motif_values(motif, rand, "presence", 1e-4)
    k, b, n = int(hits.sum()), int(base.sum()), len(windows)
    p = float(stats.fisher_exact([[k, n - k], [b, n - b]], alternative="greater")[1])
    return {"in_windows": k / n, "in_random_windows": b / n, "fisher_p": p, "supported": bool(p < 0.05)}


def describe_units(
    units: Sequence[int],
    activations: dict[int, list[np.ndarray]],
    sequences: list[str],
    ids: list[str],
    db: MotifDB,
    out: Path,
    width: int,
    windows: int,
    top_matches: int,
) -> list[dict[str, Any]]:
    """One record per unit (in the order given); a unit that never fires away from the ends gets a ``note``."""
    recs: list[dict[str, Any]] = []
    (out / "logos").mkdir(parents=True, exist_ok=True)
    for u in units:
        try:
            res = unit_motif(u, activations[u], sequences, db, width, windows, out / "logos", top_matches)
        except DataError as exc:
            recs.append({"unit": int(u), "note": str(exc), "windows": [], "matches": []})
            continue
        recs.append(
            {
                "unit": int(u),
                "n_windows": len(res.windows),
                "consensus": "".join(BASES[int(i)] for i in res.ppm.argmax(0)),
                "ppm": res.ppm.round(4).tolist(),
                "logo": str(res.logo.relative_to(out)) if res.logo else None,
                "windows": [
                    {
                        "id": ids[n],
                        "start": int(a),
                        "end": int(a) + width,
                        "activation": float(v),
                        "window": sequences[n][a : a + width],
                    }
                    for n, a, v in res.windows
                ],
                "matches": [m.as_dict() for m in res.matches],
                "site_check": (
                    {
                        "id": res.matches[0].id,
                        **site_check(db.by_id[res.matches[0].id].ppm, res.windows, sequences, width, seed=u),
                    }
                    if res.matches
                    else None
                ),
            }
        )
    return recs
