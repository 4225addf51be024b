"""Promoter vs non-promoter: windows around TSSs (GTF transcripts or EPDnew BED) and matched-length negatives.

A TSS is the 5' base of a transcript: GTF ``start`` (1-based) on ``+`` -> 0-based ``start - 1``; on ``-`` the
GTF ``end`` -> 0-based ``end - 1``. For BED input the 5' base of the interval. The window is ``upstream`` bp
5' of the TSS, the TSS itself and ``downstream`` bp 3' of it, read 5'->3' on the transcript's strand
(length ``upstream + 1 + downstream``; 249 + 1 + 50 = 300 bp by default). Label 1 = promoter, 0 = background.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError
from ..config import LocalRegion
from ..segment import SeqBatch
from .common import ChromMap, Genome, read_bed, read_gtf, sample_negatives, to_batch


def tss_table(cfg: LocalRegion) -> pd.DataFrame:
    """chrom, tss (0-based), strand; one row per distinct TSS."""
    name = cfg.annotation.name.lower().removesuffix(".gz")
    if name.endswith((".bed", ".bed6")):
        bed = read_bed(cfg.annotation)
        tss = np.where(bed["strand"] == "-", bed["end"] - 1, bed["start"])
        df = pd.DataFrame({"chrom": bed["chrom"], "tss": tss, "strand": bed["strand"]})
    else:
        gtf = read_gtf(cfg.annotation, ("transcript", "mRNA", "gene"))
        tss = np.where(gtf["strand"] == "-", gtf["end"] - 1, gtf["start"])
        df = pd.DataFrame({"chrom": gtf["chrom"], "tss": tss, "strand": gtf["strand"]})
    return df.drop_duplicates().reset_index(drop=True)


def windows(tss: pd.DataFrame, upstream: int, downstream: int) -> pd.DataFrame:
    """Genome-coordinate windows (0-based half-open) around each TSS, strand-aware."""
    minus = (tss["strand"] == "-").to_numpy()
    t = tss["tss"].to_numpy()
    start = np.where(minus, t - downstream, t - upstream)
    end = np.where(minus, t + upstream + 1, t + downstream + 1)
    return pd.DataFrame(
        {
            "chrom": tss["chrom"].to_numpy(),
            "start": start,
            "end": end,
            "strand": tss["strand"].to_numpy(),
            "name": "promoter",
        }
    )


def build(cfg: LocalRegion, rng: np.random.Generator) -> tuple[SeqBatch, dict[int, str], dict[str, Any]]:
    genome = Genome(cfg.genome)
    report: dict[str, Any] = {"annotation": str(cfg.annotation), "genome": str(cfg.genome)}
    tss = ChromMap(list(genome.lengths), cfg.chrom_aliases).harmonise(tss_table(cfg), report, "tss")
    pos = windows(tss, cfg.upstream, cfg.downstream)
    inside = genome.in_bounds(pos)
    report["tss_distinct"] = len(tss) + report["tss_unknown_chromosome"]
    report["window_off_chromosome_end"] = int((~inside).sum())
    pos = pos[inside].reset_index(drop=True)
    if pos.empty:
        raise DataError(
            f"no promoter window fits inside the genome {cfg.genome}; check the genome matches {cfg.annotation}"
        )
    n_neg = round(len(pos) * cfg.negatives_per_positive)
    lengths = np.resize(rng.permutation(pos["end"].to_numpy() - pos["start"].to_numpy()), n_neg)
    neg = sample_negatives(lengths, sorted(set(pos["chrom"])), genome, pos, rng)
    df = pd.concat([pos.assign(label=1), neg.assign(label=0)], ignore_index=True)
    report.update(positives=len(pos), negatives=len(neg))
    return to_batch(genome, df), {0: "non_promoter", 1: "promoter"}, report
