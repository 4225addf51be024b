"""Motif discovery with TF-MoDISco (``modisco-lite``) on hypothetical contributions, and which patterns are
discriminative for the explained class.

Input layout (TF-MoDISco's, see :mod:`genomefactory.interpret.attrib.base`): ``one_hot`` and ``hypothetical``
are ``(N, L, 4)`` float32 in A, C, G, T order; the observed contribution is ``one_hot * hypothetical``.
MoDISco calls seqlets on the summed contribution and splits them by sign into a positive metacluster (bases that
raise the explained scalar, e.g. the target class's log-odds) and a negative one, then clusters each into
patterns. Hypothetical contributions are centred over the four bases at each position first (a no-op for ISM;
for gradients it removes the off-simplex component). A pattern's PPM / CWM are ``(w, 4)``, trimmed to the columns whose summed |CWM| is at least
``trim_threshold`` of the maximum (modisco's own report rule).

**Discriminative patterns.** A motif the model uses in every class (a distractor) gets seqlets too, so a pattern
is called discriminative for the target class only when, with the class labels given,
1. it is in the positive metacluster (it raises the target class's score), and
2. its seqlets are enriched in target-class sequences over the others (one-sided Fisher exact test on
   "sequences with >= 1 seqlet of the pattern"), and
3. the motif itself is enriched there: the pattern's PPM scanned (FIMO, both strands, ``scan_p``) over all
   sequences hits target-class sequences more often (one-sided Fisher test);
with Benjamini-Hochberg q-values over the patterns below ``alpha`` for both tests. A negative pattern enriched
in the other classes is reported as discriminative for them (``role: other``); the rest are ``shared``.
Without labels every pattern's role is ``unknown``.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import DataError, missing_extra

log = logging.getLogger("genomefactory.interpret")

__all__ = ["Pattern", "classify_patterns", "run_modisco", "trim"]


@dataclass
class Pattern:
    name: str  # pos_pattern_0, neg_pattern_1 ... (modisco's naming)
    sign: int  # +1 positive metacluster, -1 negative
    ppm: np.ndarray  # (w, 4) trimmed
    cwm: np.ndarray  # (w, 4) trimmed contribution weight matrix
    seqlets: list[tuple[int, int, int, bool]]  # (example, start, end, reverse-complemented)
    stats: dict[str, Any] = field(default_factory=dict)  # enrichment, role (classify_patterns)
    matches: list[Any] = field(default_factory=list)  # TOMTOM matches (match.Match)

    @property
    def n_seqlets(self) -> int:
        return len(self.seqlets)

    @property
    def role(self) -> str:
        return str(self.stats.get("role", "unknown"))


def trim(ppm: np.ndarray, cwm: np.ndarray, threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Keep the span of columns whose summed |CWM| reaches ``threshold`` x the maximum."""
    score = np.abs(cwm).sum(1)
    keep = np.flatnonzero(score >= threshold * score.max())
    if keep.size == 0:
        return ppm, cwm
    a, b = int(keep.min()), int(keep.max()) + 1
    return ppm[a:b], cwm[a:b]


def _check(one_hot: np.ndarray, hyp: np.ndarray) -> None:
    if one_hot.shape != hyp.shape or one_hot.ndim != 3 or one_hot.shape[2] != 4:
        raise DataError(
            f"attributions: one_hot {one_hot.shape} and hypothetical {hyp.shape} must both be (N, L, 4)"
        )
    if not np.isfinite(hyp).all():
        raise DataError("attributions: hypothetical contributions hold NaN or inf values")


def run_modisco(
    one_hot: np.ndarray,
    hyp: np.ndarray,
    *,
    window: int = 21,
    flank: int = 10,
    min_metacluster_size: int = 100,
    max_seqlets: int = 20000,
    min_cluster_size: int = 20,
    n_leiden_runs: int = 10,
    trim_threshold: float = 0.3,
) -> list[Pattern]:
    """TF-MoDISco patterns (positive metacluster first), each trimmed (see :func:`trim`)."""
    try:
        from modiscolite.tfmodisco import TFMoDISco
    except ImportError as exc:
        raise missing_extra("motif discovery", "modisco-lite", "motifs") from exc
    _check(one_hot, hyp)
    # centred per position: removes the component of a gradient that no base substitution can realise (a
    # no-op for ISM, whose hypothetical contributions are centred already)
    hyp = hyp - hyp.mean(-1, keepdims=True)
    # modisco centres seqlets in windows of `window` + 2 * flank bases; shorter sequences hold none
    if one_hot.shape[1] < window + 2 * flank:
        raise DataError(
            f"sequences are {one_hot.shape[1]} bases; motif discovery needs at least window + 2 x flank = "
            f"{window + 2 * flank} (lower `window` / `flank`)"
        )
    with contextlib.redirect_stdout(io.StringIO()):
        pos, neg = TFMoDISco(
            one_hot=one_hot.astype(np.float32),
            hypothetical_contribs=hyp.astype(np.float32),
            sliding_window_size=window,
            flank_size=flank,
            min_metacluster_size=min_metacluster_size,
            max_seqlets_per_metacluster=max_seqlets,
            final_min_cluster_size=min_cluster_size,
            n_leiden_runs=n_leiden_runs,
            # modisco's defaults (30, 10) suit its 21 + 2 x 10 seqlets; scaled with them, so that patterns of
            # short sequences are not dropped for want of room to expand
            trim_to_window_size=window + flank - 1,
            initial_flank_to_add=flank,
            verbose=False,
        )
    out = []
    for sign, patterns in ((1, pos), (-1, neg)):
        for k, p in enumerate(patterns or []):
            ppm, cwm = trim(np.asarray(p.sequence), np.asarray(p.contrib_scores), trim_threshold)
            seqlets = [(int(s.example_idx), int(s.start), int(s.end), bool(s.is_revcomp)) for s in p.seqlets]
            name = f"{'pos' if sign > 0 else 'neg'}_pattern_{k}"
            out.append(Pattern(name, sign, ppm, cwm, seqlets))
    log.info("modisco: %d patterns", len(out))
    return out


def _fisher(a_hit: int, a_n: int, b_hit: int, b_n: int) -> tuple[float, float]:
    """One-sided Fisher exact test that group a holds hits more often than group b: (odds ratio, p)."""
    from scipy import stats

    res = stats.fisher_exact([[a_hit, a_n - a_hit], [b_hit, b_n - b_hit]], alternative="greater")
    return float(res.statistic), float(res.pvalue)


def _json_float(x: float) -> float | None:
    """An odds ratio for JSON: infinite (no hit in the other group) becomes None."""
    return float(x) if np.isfinite(x) else None


def _scan_presence(ppm: np.ndarray, one_hot: np.ndarray, p_threshold: float) -> np.ndarray:
    """(N,) bool: the sequence holds a FIMO hit of ``ppm`` (w, 4) on either strand."""
    from .scan import fimo_hits

    hits = fimo_hits({"q": ppm.T}, one_hot, p_threshold)
    present = np.zeros(len(one_hot), dtype=bool)
    present[hits["q"]] = True
    return present


def classify_patterns(
    patterns: list[Pattern],
    one_hot: np.ndarray,
    labels: np.ndarray | None,
    target: int,
    alpha: float = 0.05,
    scan_p: float = 1e-4,
) -> None:
    """Fill each pattern's ``stats`` (seqlet and motif enrichment in the target class, q-values, ``role``)."""
    if labels is None or not patterns:
        for p in patterns:
            p.stats = {"role": "unknown", "reason": "no class labels given"}
        return
    from scipy import stats

    is_t = np.asarray(labels) == target
    n_t, n_o = int(is_t.sum()), int((~is_t).sum())
    if n_t == 0 or n_o == 0:
        raise DataError(f"labels: need sequences of the target class {target} and of another class")
    rows = []
    for p in patterns:
        with_seqlet = np.zeros(len(one_hot), dtype=bool)
        with_seqlet[[s[0] for s in p.seqlets]] = True
        motif = _scan_presence(p.ppm, one_hot, scan_p)
        # one-sided in the direction of the pattern's sign: positive patterns should favour the target class
        groups = [(is_t, ~is_t)] if p.sign > 0 else [(~is_t, is_t)]
        a, b = groups[0]
        so, sp = _fisher(int(with_seqlet[a].sum()), int(a.sum()), int(with_seqlet[b].sum()), int(b.sum()))
        mo, mp = _fisher(int(motif[a].sum()), int(a.sum()), int(motif[b].sum()), int(b.sum()))
        rows.append((p, with_seqlet, motif, so, sp, mo, mp))
    sq = stats.false_discovery_control([r[4] for r in rows], method="bh")
    mq = stats.false_discovery_control([r[6] for r in rows], method="bh")
    for (p, with_seqlet, motif, so, sp, mo, mp), q1, q2 in zip(rows, sq, mq, strict=True):
        enriched = bool(q1 < alpha and q2 < alpha and so > 1 and mo > 1)
        role = ("target" if p.sign > 0 else "other") if enriched else "shared"
        p.stats = {
            "role": role,
            "discriminative": role == "target",
            "seqlet_fraction_target": float(with_seqlet[is_t].mean()),
            "seqlet_fraction_other": float(with_seqlet[~is_t].mean()),
            "seqlet_odds_ratio": _json_float(so),
            "seqlet_p": sp,
            "seqlet_q": float(q1),
            "motif_fraction_target": float(motif[is_t].mean()),
            "motif_fraction_other": float(motif[~is_t].mean()),
            "motif_odds_ratio": _json_float(mo),
            "motif_p": mp,
            "motif_q": float(q2),
        }
