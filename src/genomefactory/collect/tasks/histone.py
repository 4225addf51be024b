"""Histone mark (e.g. H3K36me3) high vs low: gene bodies from a GTF, mean signal from a bigWig (pyBigWig).

Gene bodies are GTF ``gene`` rows converted to 0-based half-open. The label is 1 when the mean signal over the
whole body exceeds ``threshold`` (default: the median over genes), else 0. Genes without bigWig data are dropped
(reported). Bodies longer than ``max_length`` are cut to a window centred on the body's highest-signal interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import DataError
from ..config import LocalRegion
from ..segment import SeqBatch
from .common import ChromMap, Genome, read_gtf, to_batch


def _signal(
    bw: Any, chroms: dict[str, int], chrom: str, start: int, end: int, max_length: int
) -> tuple[float | None, int]:
    """(mean over [start, end), start of the max_length window around the peak)."""
    end = min(end, chroms[chrom])
    if end <= start:
        return None, start
    mean = bw.stats(chrom, start, end, type="mean", exact=True)[0]
    if mean is None or end - start <= max_length:
        return mean, start
    ivs = bw.intervals(chrom, start, end) or []
    if not ivs:
        return mean, start + (end - start - max_length) // 2
    s, e, _ = max(ivs, key=lambda iv: iv[2])
    centre = (max(s, start) + min(e, end)) // 2
    return mean, int(np.clip(centre - max_length // 2, start, end - max_length))


def build(cfg: LocalRegion, rng: np.random.Generator) -> tuple[SeqBatch, dict[int, str], dict[str, Any]]:
    import pyBigWig

    genome = Genome(cfg.genome)
    report: dict[str, Any] = {
        "annotation": str(cfg.annotation),
        "signal": str(cfg.signal),
        "genome": str(cfg.genome),
    }
    genes = read_gtf(cfg.annotation, ("gene",))
    report["genes"] = len(genes)
    genes = ChromMap(list(genome.lengths), cfg.chrom_aliases).harmonise(genes, report, "gene")
    inside = genome.in_bounds(genes)
    short = (genes["end"] - genes["start"]) < cfg.min_length
    report.update(gene_outside_genome=int((~inside).sum()), gene_shorter_than_min=int((inside & short).sum()))
    genes = genes[inside & ~short].reset_index(drop=True)
    bw = pyBigWig.open(str(cfg.signal))
    if bw is None:
        raise DataError(f"{cfg.signal} is not a readable bigWig file")
    chroms = bw.chroms()
    to_bw = ChromMap(list(chroms), cfg.chrom_aliases)
    means, starts = [], []
    for c, s, e in zip(genes["chrom"], genes["start"], genes["end"], strict=True):
        bc = to_bw(c)
        m, ws = _signal(bw, chroms, bc, int(s), int(e), cfg.max_length) if bc else (None, int(s))
        means.append(np.nan if m is None else m)
        starts.append(ws)
    bw.close()
    mean = np.array(means, dtype=float)
    has = ~np.isnan(mean)
    report["gene_without_signal"] = int((~has).sum())
    if not has.any():
        raise DataError(
            f"no gene of {cfg.annotation} has data in {cfg.signal}; check chromosome names and region"
        )
    threshold = float(np.median(mean[has])) if cfg.threshold is None else cfg.threshold
    start = np.array(starts, dtype=np.int64)
    df = genes.assign(
        start=start,
        end=np.minimum(genes["end"].to_numpy(), start + cfg.max_length),
        label=(mean > threshold).astype(np.int64),
        signal=mean,
    )[has].reset_index(drop=True)
    report.update(
        threshold=threshold,
        threshold_source="median" if cfg.threshold is None else "config",
        high=int(df["label"].sum()),
        low=int((df["label"] == 0).sum()),
    )
    return to_batch(genome, df), {0: "low", 1: "high"}, report
