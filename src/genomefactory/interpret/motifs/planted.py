"""Planted-motif data on real genomic background (tests, demos, benchmarks).

Backgrounds are windows of a real genome (upper-case, windows holding a non-ACGT base are skipped). Each planted
site is *sampled* from the motif's probability matrix (not only its consensus), put at a uniformly random
position on a random strand (the reverse strand gets the reverse complement), never overlapping another site.
Class ``k`` of ``class_motifs`` receives one site of each of its motifs; every sequence, of every class, receives
one site of each ``distractors`` motif, so a distractor carries no class information. Coordinates are 0-based
half-open on the forward strand of the returned sequence.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError
from ...sequence import reverse_complement
from .database import BASES, Motif

__all__ = ["PlantedData", "Site", "genome_windows", "plant", "write_task"]


@dataclass(frozen=True)
class Site:
    motif: str  # motif id
    start: int
    end: int
    strand: str


@dataclass
class PlantedData:
    sequences: list[str]
    labels: np.ndarray  # (N,) int
    sites: list[list[Site]]  # per sequence


def genome_windows(genome: str, n: int, length: int, rng: random.Random) -> list[str]:
    """``n`` random ACGT-only windows of ``genome``."""
    g = genome.upper()
    if len(g) < length * 2:
        raise DataError(f"the genome has {len(g)} bases; too short for {length}-base windows")
    out: list[str] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n:
            raise DataError("could not find enough ACGT-only windows in the genome")
        a = rng.randrange(0, len(g) - length)
        w = g[a : a + length]
        if set(w) <= set(BASES):
            out.append(w if rng.random() < 0.5 else reverse_complement(w))
    return out


def _sample(m: Motif, rng: np.random.Generator) -> str:
    return "".join(BASES[rng.choice(4, p=m.ppm[:, j])] for j in range(m.width))


def plant(
    genome: str,
    class_motifs: Mapping[int, Sequence[Motif]],
    distractors: Sequence[Motif] = (),
    n_per_class: int = 200,
    length: int = 100,
    seed: int = 0,
) -> PlantedData:
    """Sequences of every class in ``class_motifs`` (a class may map to no motif), classes interleaved."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    classes = sorted(class_motifs)
    seqs, labels, sites = [], [], []
    back = genome_windows(genome, n_per_class * len(classes), length, rng)
    for i, s in enumerate(back):
        label = classes[i % len(classes)]
        todo = list(class_motifs[label]) + list(distractors)
        taken: list[tuple[int, int]] = []
        here = []
        for m in todo:
            if m.width > length:
                raise DataError(f"motif {m.id} ({m.width} bases) is longer than the sequences ({length})")
            for _ in range(1000):
                a = rng.randrange(0, length - m.width + 1)
                if all(a + m.width <= x or a >= y for x, y in taken):
                    break
            else:
                raise DataError("the planted motifs do not fit into the sequences; make them longer")
            site = _sample(m, nrng)
            strand = "+" if rng.random() < 0.5 else "-"
            if strand == "-":
                site = reverse_complement(site)
            s = s[:a] + site + s[a + m.width :]
            taken.append((a, a + m.width))
            here.append(Site(m.id, a, a + m.width, strand))
        seqs.append(s)
        labels.append(label)
        sites.append(here)
    return PlantedData(seqs, np.asarray(labels, dtype=np.int64), sites)


def write_task(folder: str | Path, data: PlantedData, dev_fraction: float = 0.15) -> Path:
    """``train.csv`` / ``dev.csv`` / ``test.csv`` (columns ``sequence,label``); dev = test (small sets)."""
    from ...io import atomic_write_text

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    n_dev = max(int(len(data.sequences) * dev_fraction), 4)
    rows = [f"{s},{y}" for s, y in zip(data.sequences, data.labels, strict=True)]
    atomic_write_text(out / "train.csv", "sequence,label\n" + "\n".join(rows[n_dev:]) + "\n")
    for split in ("dev", "test"):
        atomic_write_text(out / f"{split}.csv", "sequence,label\n" + "\n".join(rows[:n_dev]) + "\n")
    return out
