"""Quality control of a :class:`~genomefactory.collect.segment.SeqBatch` as ordered, reported steps.

Every step returns ``(batch, keep, entry)``: the batch it judged (a transforming step returns a copy), a boolean
mask of the rows to keep, and a report entry ``{step, before, removed, after, reasons, ...}``; :func:`run_qc`
drops the rows. ``before - removed == after`` for every step, so the counts of ``qc_report.json`` add up. A step that would
remove every sequence raises :class:`QCError` naming the step and the setting to relax: nothing falls back
silently. QC runs on the whole pool before splitting and never on a benchmark's given splits; the one exception,
the opt-in ``repeat_leakage`` step (:func:`drop_repeat_leakage`), runs after this pipeline's own split and only
removes dev/test rows whose sampled 32-mers (either strand) are mostly found in train.

All statistics are vectorised over the ``(n, max_len)`` byte matrix in row chunks (no per-base Python loop);
per-row base counts are cached on the batch. Count columns are A, C, G, T, ambiguous (padding excluded).
Counting compares a chunk with one value at a time and sums the mask as uint64 words (eight byte counters per
add). Duplicates are found by hashing each row's ends and base counts on both strands; only rows whose hash is
shared are compared byte by byte, so a hash collision costs time but never drops a row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UserError
from ..sequence import IUPAC_EXPANSION
from .config import QCConfig
from .kernels import (  # noqa: F401  (re-exported: the kernels are part of the QC API)
    _CHUNK,
    SHARED_K,
    base_counts,
    canonical_keys,
    duplicate_candidates,
    gc_fraction,
    kmer_counts,
    kmer_profiles,
    sampled_kmers,
    strand_hashes,
)
from .segment import SeqBatch

_MASK_LUT = np.arange(256, dtype=np.uint8)
for _c in b"RYSWKMBDHV":
    _MASK_LUT[_c] = ord("N")
# median of chi2(3) (scipy.stats.chi2.median(3); a test checks it): scipy.stats is not imported for one
# constant and one tail probability, as its import alone took 2.7 s, half of a whole `process` run
_CHI2_MEDIAN_3DF = 2.3659738843753377


def chi2_sf_3df(x: np.ndarray) -> np.ndarray:
    """Upper tail P(X >= x) of chi2 with 3 degrees of freedom: erfc(sqrt(x/2)) + sqrt(2x/pi) exp(-x/2)."""
    x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    erfc = np.fromiter((math.erfc(v) for v in np.sqrt(x / 2).tolist()), dtype=np.float64, count=x.size)
    return erfc.reshape(x.shape) + np.sqrt(2 * x / math.pi) * np.exp(-x / 2)


StepResult = tuple[SeqBatch, np.ndarray, dict[str, Any]]  # (batch, rows to keep, report entry)


class QCError(UserError, ValueError):
    """A QC step would remove every sequence, or a leakage check failed."""


def _entry(step: str, before: int, keep: np.ndarray, reasons: dict[str, int], **extra: Any) -> dict[str, Any]:
    after = int(np.count_nonzero(keep))
    if after == 0:
        why = ", ".join(f"{k}: {v}" for k, v in reasons.items() if v) or "no reason recorded"
        raise QCError(
            f"QC step '{step}' would remove all {before} sequences ({why}); relax its qc settings "
            f"or remove '{step}' from qc.steps"
        )
    return {
        "step": step,
        "before": before,
        "removed": before - after,
        "after": after,
        "reasons": reasons,
        **extra,
    }


def step_length(b: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> StepResult:
    short = b.lengths < (cfg.min_length or 0)
    long = b.lengths > cfg.max_length if cfg.max_length else np.zeros(len(b), dtype=bool)
    keep = ~(short | long)
    e = _entry(
        "length",
        len(b),
        keep,
        {"shorter_than_min": int(short.sum()), "longer_than_max": int(long.sum())},
        min_length=cfg.min_length,
        max_length=cfg.max_length,
    )
    return b, keep, e


def _compact(b: SeqBatch, rows: np.ndarray) -> SeqBatch:
    """``b.take(rows)`` for ascending ``rows`` that reuses ``b.mat`` (which it overwrites) instead of a new matrix.

    Row ``rows[i] >= i`` is copied to row ``i`` chunk by chunk in ascending order, so no row is overwritten
    before it is read; a fresh matrix of this size costs more in page faults than the copy itself.
    """
    step = max(1, _CHUNK // max(1, b.mat.shape[1]))
    for lo in range(0, rows.size, step):
        src = rows[lo : lo + step]
        b.mat[lo : lo + src.size] = b.mat[src]
    counts = None if b.counts is None else b.counts[rows]
    return SeqBatch(
        b.mat[: rows.size],
        b.lengths[rows],
        b.labels[rows],
        b.groups[rows],
        b.contig[rows],
        b.start[rows],
        counts,
    )


def _resolve(mat: np.ndarray, rng: np.random.Generator) -> int:
    changed = 0
    for code, options in IUPAC_EXPANSION.items():
        if len(options) == 1:
            continue
        where = np.nonzero(mat == ord(code))
        if where[0].size:
            choice = np.frombuffer(options.encode(), dtype=np.uint8)
            mat[where] = choice[rng.integers(0, len(options), size=where[0].size)]
            changed += int(where[0].size)
    return changed


def step_ambiguous(b: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> StepResult:
    """Drop, mask (to N) or resolve (seeded) IUPAC codes, then drop rows whose N fraction exceeds the maximum.

    The N fraction is counted after masking and before resolving, so ``max_n_fraction`` means the same in
    ``mask`` and ``resolve`` mode (``drop`` removes every row with any ambiguous code).
    """
    counts = base_counts(b)
    rows = np.flatnonzero(counts[:, 4] > 0)  # only rows with ambiguous codes are touched
    extra: dict[str, Any] = {"mode": cfg.ambiguous, "max_n_fraction": cfg.max_n_fraction}
    if cfg.ambiguous == "drop":
        keep = counts[:, 4] == 0
        return b, keep, _entry("ambiguous", len(b), keep, {"has_ambiguous_base": int(rows.size)}, **extra)
    sub = b.mat[rows]
    n_count = np.zeros(len(b), dtype=np.int64)
    if cfg.ambiguous == "mask":
        extra["bases_masked"] = int(counts[rows, 4].sum() - np.count_nonzero(sub == ord("N")))
        sub = _MASK_LUT[sub]
        n_count[rows] = counts[rows, 4]
    else:
        # N counts before resolution: a gap resolved at random is invented sequence, not data
        n_count[rows] = np.count_nonzero(sub == ord("N"), axis=1)
        extra["bases_resolved"] = _resolve(sub, rng)
    if rows.size:  # copy: the caller's matrix stays as it was
        b = SeqBatch(
            b.mat.copy(),
            b.lengths,
            b.labels,
            b.groups,
            b.contig,
            b.start,
            counts if cfg.ambiguous == "mask" else None,
        )
        b.mat[rows] = sub
    keep = n_count / np.maximum(b.lengths, 1) <= cfg.max_n_fraction
    return b, keep, _entry("ambiguous", len(b), keep, {"n_fraction_above_max": int((~keep).sum())}, **extra)


def step_gc(b: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> StepResult:
    gc = gc_fraction(base_counts(b))
    none = np.isnan(gc)
    low = ~none & (gc < cfg.gc_min)
    high = ~none & (gc > cfg.gc_max)
    keep = ~(none | low | high)
    reasons = {
        "no_unambiguous_base": int(none.sum()),
        "gc_below_min": int(low.sum()),
        "gc_above_max": int(high.sum()),
    }
    return b, keep, _entry("gc", len(b), keep, reasons, gc_min=cfg.gc_min, gc_max=cfg.gc_max)


def step_composition(b: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> StepResult:
    """Chi-square (3 df) of each row's A/C/G/T counts against its class's pooled composition.

    The statistic is divided by the class's dispersion factor (median chi-square / median of chi2(3), at least
    1) so ordinary regional variation of a real genome is not an "outlier"; p-values are Bonferroni-corrected
    over the class's rows.
    """
    obs = base_counts(b)[:, :4].astype(np.float64)
    keep = np.ones(len(b), dtype=bool)
    background: dict[str, list[float]] = {}
    dispersions: dict[str, float] = {}
    for label in np.unique(b.labels):
        rows = b.labels == label
        bg = obs[rows].sum(axis=0) / max(obs[rows].sum(), 1.0)
        background[str(int(label))] = [round(float(x), 4) for x in bg]
        expected = obs[rows].sum(axis=1, keepdims=True) * np.maximum(bg, 1e-12)[None, :]
        chi2 = ((obs[rows] - expected) ** 2 / np.maximum(expected, 1e-12)).sum(axis=1)
        # real genomes vary more than a multinomial: scale by the class's dispersion (quasi-likelihood)
        dispersion = max(1.0, float(np.median(chi2)) / _CHI2_MEDIAN_3DF)
        dispersions[str(int(label))] = round(dispersion, 3)
        p = chi2_sf_3df(chi2 / dispersion)
        keep[rows] = p >= cfg.chi2_alpha / rows.sum()  # Bonferroni: alpha is family-wise per class
    e = _entry(
        "composition",
        len(b),
        keep,
        {"composition_outlier": int((~keep).sum())},
        alpha=cfg.chi2_alpha,
        correction="bonferroni",
        background_ACGT=background,
        dispersion=dispersions,
    )
    return b, keep, e


def step_rare_kmers(b: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> StepResult:
    """Drop rows whose k-mer profile is far from their class centroid (robust z), at most a capped fraction."""
    prof = kmer_profiles(b, cfg.kmer)
    z = np.zeros(len(b))
    for label in np.unique(b.labels):
        rows = b.labels == label
        dist = 0.5 * np.abs(prof[rows] - prof[rows].mean(axis=0)).sum(axis=1)
        med = np.median(dist)
        mad = 1.4826 * np.median(np.abs(dist - med))
        z[rows] = (dist - med) / mad if mad > 0 else 0.0
    candidates = np.flatnonzero(z > cfg.rare_z)
    cap = int(np.floor(cfg.rare_max_fraction * len(b)))
    drop = candidates[np.argsort(-z[candidates])][:cap]
    keep = np.ones(len(b), dtype=bool)
    keep[drop] = False
    e = _entry(
        "rare_kmers",
        len(b),
        keep,
        {"rare_profile": int(drop.size)},
        k=cfg.kmer,
        z=cfg.rare_z,
        candidates=int(candidates.size),
        cap=cap,
        capped=bool(candidates.size > cap),
    )
    return b, keep, e


def step_duplicates(b: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> StepResult:
    """Drop rows equal to an earlier row (exact) or to its reverse complement; first occurrence is kept."""
    seen: set[bytes] = set()
    canon: set[bytes] = set()
    keep = np.ones(len(b), dtype=bool)
    exact = rc = 0
    rows = duplicate_candidates(b)  # a row outside them has no copy on either strand: it stays
    for i, key in zip(rows, canonical_keys(b, rows), strict=True):
        s = b.row(int(i))
        if s in seen:
            exact += 1
            keep[i] = False
        elif key in canon:
            rc += 1
            keep[i] = False
        seen.add(s)
        canon.add(key)
    e = _entry("duplicates", len(b), keep, {"exact_duplicate": exact, "reverse_complement_duplicate": rc})
    return b, keep, e


def gc_bins(gc: np.ndarray, bins: int) -> np.ndarray:
    """Bin index of each GC fraction on ``bins`` equal bins of [0, 1] (NaN -> bin 0); one rule everywhere."""
    edges = np.linspace(0, 1, bins + 1)
    return np.clip(np.searchsorted(edges, np.nan_to_num(gc, nan=0.0), side="right") - 1, 0, bins - 1)


def gc_histograms(b: SeqBatch, bins: int, keep: np.ndarray | None = None) -> dict[str, list[int]]:
    """GC histogram per class, over all rows or only those where ``keep`` is true."""
    bin_of, labels = gc_bins(gc_fraction(base_counts(b)), bins), b.labels
    if keep is not None:
        bin_of, labels = bin_of[keep], labels[keep]
    return {
        str(int(lab)): np.bincount(bin_of[labels == lab], minlength=bins).tolist()
        for lab in np.unique(labels)
    }


def step_gc_normalize(b: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> StepResult:
    """Subsample so every class has the same count in every GC bin (the per-bin minimum over classes)."""
    labels = np.unique(b.labels)
    bin_of = gc_bins(gc_fraction(base_counts(b)), cfg.gc_bins)
    before = gc_histograms(b, cfg.gc_bins)
    keep = np.zeros(len(b), dtype=bool)
    if labels.size < 2:
        keep[:] = True
    else:
        for k in range(cfg.gc_bins):
            members = [np.flatnonzero((bin_of == k) & (b.labels == lab)) for lab in labels]
            target = min(m.size for m in members)
            for m in members:
                keep[rng.choice(m, size=target, replace=False)] = True
    e = _entry(
        "gc_normalize",
        len(b),
        keep,
        {"gc_bin_excess": int((~keep).sum())},
        bins=cfg.gc_bins,
        single_class=bool(labels.size < 2),
        histogram_before=before,
        histogram_after=gc_histograms(b, cfg.gc_bins, keep),
    )
    return b, keep, e


STEPS: dict[str, Callable[[SeqBatch, QCConfig, np.random.Generator], StepResult]] = {
    "length": step_length,
    "ambiguous": step_ambiguous,
    "gc": step_gc,
    "composition": step_composition,
    "rare_kmers": step_rare_kmers,
    "duplicates": step_duplicates,
    "gc_normalize": step_gc_normalize,
}


def run_qc(batch: SeqBatch, cfg: QCConfig, rng: np.random.Generator) -> tuple[SeqBatch, list[dict[str, Any]]]:
    """Apply ``cfg.steps`` in order; returns the surviving batch and one report entry per step.

    The caller's batch is never modified: the first step that removes rows copies the survivors, later ones
    compact that private copy in place.
    """
    report = []
    callers = batch.mat
    for name in cfg.steps:
        batch, keep, entry = STEPS[name](batch, cfg, rng)
        if not keep.all():
            rows = np.flatnonzero(keep)
            batch = batch.take(rows) if np.may_share_memory(batch.mat, callers) else _compact(batch, rows)
        report.append(entry)
    return batch, report
