"""Motif readouts for ``sae_regression``: FIMO scans of JASPAR motifs over the sequences behind the embeddings.

One readout per spec, one value per sequence (upper-case IUPAC; a base other than ACGT matches nothing):
``presence`` (1 when a window on either strand has FIMO p < ``p_threshold``, else 0), ``count`` (hits) or
``max_score`` (the best log-odds window, :func:`.scan.max_scores`). Sequences of different lengths are scanned
one length group at a time (no padding enters a window).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError
from .database import load_jaspar
from .scan import fimo_hits, max_scores

__all__ = ["jaspar_readout", "motif_values"]


def motif_values(ppm: np.ndarray, seqs: list[str], statistic: str, p_threshold: float) -> np.ndarray:
    """(N,) float: the statistic of motif ``ppm`` (4, w) in each sequence."""
    from ..attrib.base import one_hot

    out = np.zeros(len(seqs), dtype=np.float64)
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        groups.setdefault(len(s), []).append(i)
    for _, idx in sorted(groups.items()):
        oh = one_hot([seqs[i] for i in idx])
        if statistic == "max_score":
            out[idx] = max_scores(ppm, oh)
            continue
        hits = np.bincount(fimo_hits({"m": ppm}, oh, p_threshold)["m"], minlength=len(idx))
        out[idx] = (hits > 0) if statistic == "presence" else hits
    return out


def jaspar_readout(seqs: list[str], spec: Any) -> pd.DataFrame:
    key = spec.jaspar_id
    if not key:
        raise DataError(
            "readout kind 'jaspar' needs `jaspar_id` (a JASPAR matrix id such as MA0139.2, or CTCF)"
        )
    if "." in key or key.startswith(("MA", "PB", "PF", "PH", "PL", "UN", "CN", "POL")):
        db = load_jaspar(spec.jaspar_release, ids=[key])
    else:
        db = load_jaspar(spec.jaspar_release, collection="CORE", tax_group=None)
    motif = db.get(key)
    name = spec.name or f"{motif.label} {spec.statistic}"
    return pd.DataFrame({name: motif_values(motif.ppm, seqs, spec.statistic, spec.p_threshold)})
