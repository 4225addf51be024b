"""Leakage between splits: exact checks (shared sequences up to strand, overlapping loci) and the opt-in
``repeat_leakage`` measure/drop step (dev/test fragments whose sampled canonical 32-mers are mostly in train).

Runs after the split on the same :class:`~genomefactory.collect.segment.SeqBatch` as QC; counts are reported in
``qc_report.json``. Intervals are 0-based half-open on the batch's contigs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import QCConfig
from .kernels import SHARED_K, canonical_keys, duplicate_candidates, sampled_kmers
from .qc import QCError, _entry
from .segment import SeqBatch

__all__ = ["drop_repeat_leakage", "leakage_check", "shared_kmer_report", "step_repeat_leakage"]


def leakage_check(b: SeqBatch, split: np.ndarray) -> dict[str, int]:
    """Count sequences (up to strand) and loci shared between splits; raises QCError if any."""
    owner: dict[bytes, int] = {}
    shared = 0
    rows = duplicate_candidates(b)  # only rows with a possible copy can be shared
    for i, key in zip(rows, canonical_keys(b, rows), strict=True):
        s = int(split[i])
        if owner.setdefault(key, s) != s:
            shared += 1
    overlap = 0
    ends = b.start + b.lengths
    for c in np.unique(b.contig):
        rows = np.flatnonzero(b.contig == c)
        order = rows[np.argsort(b.start[rows], kind="stable")]
        reach = np.maximum.accumulate(ends[order])
        boundary = b.start[order][1:] >= reach[:-1]
        cluster = np.concatenate([[0], np.cumsum(boundary)])
        sp = split[order]
        # a cluster of mutually overlapping rows must sit in one split
        first = np.r_[True, cluster[1:] != cluster[:-1]]
        start_split = np.maximum.accumulate(np.where(first, np.arange(sp.size), 0))
        overlap += int(np.count_nonzero(sp != sp[start_split]))
    if shared or overlap:
        raise QCError(
            f"leakage between splits: {shared} sequence(s) shared (up to reverse complement) and {overlap} "
            "overlapping region(s); keep 'duplicates' in qc.steps and check the grouping"
        )
    return {"shared_sequences": shared, "overlapping_loci": overlap}


REPEAT_SAMPLE = (
    16  # keep 1 canonical 32-mer in 16 (by hash value, so every copy of a sequence keeps the same ones)
)
Kmers = tuple[np.ndarray, np.ndarray]  # (row, canonical 32-mer) pairs from sampled_kmers, rows ascending


def _train_hits(kmers: Kmers, split: np.ndarray) -> np.ndarray:
    """Per (row, k-mer) pair: True where the row is dev/test and the k-mer also occurs in a train row."""
    rows, hashes = kmers
    other = split[rows] != 0
    train = np.unique(hashes[~other])  # sorted: membership by binary search
    hit = np.zeros(rows.size, dtype=bool)
    if train.size:
        probe = hashes[other]
        pos = np.minimum(np.searchsorted(train, probe), train.size - 1)
        hit[other] = train[pos] == probe
    return hit


def shared_kmer_report(
    b: SeqBatch, split: np.ndarray, keep_one_in: int = REPEAT_SAMPLE, kmers: Kmers | None = None
) -> dict[str, Any]:
    """Per split and label: dev/test rows sharing a sampled canonical 32-mer with a train row.

    Splits never share a locus, but a genome's repeats (a chloroplast's inverted repeat, rRNA operons,
    transposons) put the same sequence at different loci; this measures that residual leakage rather than
    hiding it. Reported; removed only by the opt-in ``qc.drop_repeat_leakage`` (:func:`drop_repeat_leakage`),
    since in large eukaryotic genomes some sharing through repeats is unavoidable. ``kmers``: the batch's
    :func:`sampled_kmers` at ``keep_one_in``, when already computed.
    """
    kmers = sampled_kmers(b.mat, keep_one_in) if kmers is None else kmers
    return _leak_report(b, split, kmers[0][_train_hits(kmers, split)], keep_one_in)


def _leak_report(b: SeqBatch, split: np.ndarray, hit_rows: np.ndarray, keep_one_in: int) -> dict[str, Any]:
    hit = np.zeros(len(b), dtype=bool)
    hit[hit_rows] = True
    out: dict[str, Any] = {"k": SHARED_K, "sampled_one_in": keep_one_in}
    for k, name in ((1, "dev"), (2, "test")):
        labels = b.labels[split == k]
        flagged = b.labels[(split == k) & hit]
        out[name] = {
            str(int(lab)): {
                "rows": int((labels == lab).sum()),
                "sharing_with_train": int((flagged == lab).sum()),
            }
            for lab in np.unique(labels)
        }
    return out


def _by_split(b: SeqBatch, split: np.ndarray, keep: np.ndarray) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for k, name in ((1, "dev"), (2, "test")):
        here = split == k
        out[name] = {}
        for lab in np.unique(b.labels[here]):
            rows = here & (b.labels == lab)
            before, after = int(rows.sum()), int((rows & keep).sum())
            out[name][str(int(lab))] = {"before": before, "removed": before - after, "after": after}
    return out


def step_repeat_leakage(
    b: SeqBatch, split: np.ndarray, cfg: QCConfig, kmers: Kmers, hits: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """Rows to keep: every train row, and dev/test rows sharing < ``repeat_leakage_min_shared`` of their k-mers.

    The shared fraction of a row is (its sampled canonical 32-mers found among train rows' sampled 32-mers) /
    (its sampled 32-mers), counted per position; sampling by hash value keeps the same k-mers in train, so it
    estimates the fraction over all of the row's 32-mers. A row with no sampled 32-mer (short, or ambiguous
    throughout) shares nothing and stays. Raises :class:`QCError` if dev or test would become empty.
    ``hits``: :func:`_train_hits` of ``kmers``.
    """
    rows = kmers[0]
    sampled = np.bincount(rows, minlength=len(b))
    shared = np.bincount(rows[hits], minlength=len(b))
    drop = (split != 0) & (sampled > 0) & (shared >= cfg.repeat_leakage_min_shared * sampled)
    keep = ~drop
    by_split = _by_split(b, split, keep)
    for name, labels in by_split.items():
        if labels and not any(v["after"] for v in labels.values()):
            raise QCError(
                f"QC step 'repeat_leakage' would remove every {name} sequence (all share "
                f">= {cfg.repeat_leakage_min_shared} of their 32-mers with train); raise "
                "qc.repeat_leakage_min_shared or set qc.drop_repeat_leakage: false"
            )
    entry = _entry(
        "repeat_leakage",
        len(b),
        keep,
        {"shares_kmers_with_train": int(drop.sum())},
        min_shared=cfg.repeat_leakage_min_shared,
        k=SHARED_K,
        sampled_one_in=REPEAT_SAMPLE,
        splits=["dev", "test"],
        by_split=by_split,
    )
    return keep, entry


def drop_repeat_leakage(
    b: SeqBatch, split: np.ndarray, cfg: QCConfig
) -> tuple[SeqBatch, np.ndarray, dict[str, Any] | None, dict[str, Any]]:
    """After splitting: the opt-in ``repeat_leakage`` step (if ``cfg.drop_repeat_leakage``), then the measurement.

    Returns the surviving batch, its split ids, the step's report entry (None when off) and the
    :func:`shared_kmer_report` of the survivors, so the report shows what leakage is left; with neither the drop
    nor ``repeat_leakage_report`` on, nothing is computed and the report says so. Both share one
    k-mer pass and one train lookup: train is never touched, so a surviving row's matches stay as they were.
    """
    if not (cfg.drop_repeat_leakage or cfg.repeat_leakage_report):
        why = "not measured: set qc.repeat_leakage_report (measure) or qc.drop_repeat_leakage (measure and drop)"
        return b, split, None, {"measured": False, "why": why}
    kmers = sampled_kmers(b.mat, REPEAT_SAMPLE)
    hits = _train_hits(kmers, split)
    hit_rows = kmers[0][hits]
    entry = None
    if cfg.drop_repeat_leakage:
        keep, entry = step_repeat_leakage(b, split, cfg, kmers, hits)
        if not keep.all():
            hit_rows = (np.cumsum(keep) - 1)[hit_rows[keep[hit_rows]]]  # old row index -> survivor index
            rows = np.flatnonzero(keep)
            b, split = b.take(rows), split[rows]
    report = _leak_report(b, split, hit_rows, REPEAT_SAMPLE)
    report["after_drop_step"] = cfg.drop_repeat_leakage
    report["measured"] = True
    return b, split, entry, report
