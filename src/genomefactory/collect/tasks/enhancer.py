"""Enhancer vs background: BED regions (FANTOM5-style, 0-based half-open) and matched-length negatives.

Regions shorter than ``min_length`` are dropped (reported); longer than ``max_length`` are cropped around their
centre. Negatives have the positives' length distribution and overlap no enhancer. Label 1 = enhancer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError
from ..config import LocalRegion
from ..segment import SeqBatch
from .common import ChromMap, Genome, read_bed, sample_negatives, to_batch


def crop(df: pd.DataFrame, max_length: int) -> pd.DataFrame:
    """Centre-crop rows longer than ``max_length``."""
    length = df["end"] - df["start"]
    long = length > max_length
    start = np.where(long, df["start"] + (length - max_length) // 2, df["start"])
    return df.assign(start=start, end=np.where(long, start + max_length, df["end"]))


def build(cfg: LocalRegion, rng: np.random.Generator) -> tuple[SeqBatch, dict[int, str], dict[str, Any]]:
    genome = Genome(cfg.genome)
    report: dict[str, Any] = {"annotation": str(cfg.annotation), "genome": str(cfg.genome)}
    bed = read_bed(cfg.annotation)
    report["regions"] = len(bed)
    bed = ChromMap(list(genome.lengths), cfg.chrom_aliases).harmonise(bed, report, "region")
    inside = genome.in_bounds(bed)
    report["region_outside_genome"] = int((~inside).sum())
    bed = bed[inside]
    short = (bed["end"] - bed["start"]) < cfg.min_length
    report["region_shorter_than_min"] = int(short.sum())
    exclude = bed[["chrom", "start", "end"]]
    pos = crop(bed[~short], cfg.max_length).reset_index(drop=True)
    if pos.empty:
        raise DataError(f"no enhancer region of {cfg.annotation} is usable (see counts: {report})")
    n_neg = round(len(pos) * cfg.negatives_per_positive)
    lengths = np.resize(rng.permutation(pos["end"].to_numpy() - pos["start"].to_numpy()), n_neg)
    neg = sample_negatives(lengths, sorted(set(pos["chrom"])), genome, exclude, rng)
    df = pd.concat([pos.assign(label=1), neg.assign(label=0)], ignore_index=True)
    report.update(positives=len(pos), negatives=len(neg))
    return to_batch(genome, df), {0: "background", 1: "enhancer"}, report
