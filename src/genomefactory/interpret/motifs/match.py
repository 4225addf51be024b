"""TOMTOM (``memelite.tomtom``) matches of query motifs against a database, both strands.

Queries and targets are ``(4, width)`` matrices (A, C, G, T). ``memelite`` compares each query with every target
and with every target's reverse complement and keeps the better strand; the p-value is TOMTOM's (the query
columns' score distribution against all target columns, so it needs a full database, not a handful of motifs).
q-values: Benjamini-Hochberg over the targets of one query. ``strand`` is ``+`` when the query matches the
target as stored and ``-`` when it matches the target's reverse complement.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ...errors import DataError, missing_extra
from .database import MotifDB

__all__ = ["Match", "tomtom_matches"]


@dataclass(frozen=True)
class Match:
    rank: int  # 1 = best (smallest p)
    id: str
    name: str
    p_value: float
    q_value: float
    strand: str  # "+" / "-" (the target's reverse complement)
    offset: int  # TOMTOM's alignment offset of the query against the target
    overlap: int  # aligned columns

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _bh(p: np.ndarray) -> np.ndarray:
    from scipy import stats

    return np.asarray(stats.false_discovery_control(np.clip(p, 0.0, 1.0), method="bh"))


def tomtom_matches(queries: Sequence[np.ndarray], db: MotifDB, top: int = 5) -> list[list[Match]]:
    """The ``top`` best database matches of each query (a (4, w) matrix; PPM or CWM), best first."""
    try:
        from memelite import tomtom
    except ImportError as exc:
        raise missing_extra("TOMTOM motif matching", "memelite", "motifs") from exc
    if not queries:
        return []
    qs = []
    for n, q in enumerate(queries):
        q = np.asarray(q, dtype=np.float64)
        if q.ndim != 2 or q.shape[0] != 4 or q.shape[1] == 0 or not np.abs(q).sum() > 0:
            raise DataError(f"query motif {n}: expected a non-zero (4, width) matrix, got shape {q.shape}")
        qs.append(np.ascontiguousarray(q))
    targets = [m.ppm for m in db.motifs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few-target warning: a MEME file may be small
        p, _score, offset, overlap, strand = tomtom(qs, targets)
    out = []
    for i in range(len(qs)):
        pi = np.nan_to_num(p[i], nan=1.0)
        qi = _bh(pi)
        order = np.argsort(pi, kind="stable")[:top]
        out.append(
            [
                Match(
                    rank=r + 1,
                    id=db.motifs[j].id,
                    name=db.motifs[j].name,
                    p_value=float(pi[j]),
                    q_value=float(qi[j]),
                    strand="-" if strand[i, j] else "+",
                    offset=int(offset[i, j]),
                    overlap=int(overlap[i, j]),
                )
                for r, j in enumerate(order)
            ]
        )
    return out
