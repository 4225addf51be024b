"""Planted-motif data for variant scoring: a labelled task, a genome with motif sites, and labelled SNVs.

Used by the README example, the tests and ``benchmarks/variant_function.py``; everything is seeded and offline.

- :func:`plant_task`: a ``train/dev/test.csv`` folder (``sequence,label``) of random ACGT sequences; label 1 holds
  the motif once, on a random strand (the motif or its reverse complement) at a random offset, label 0 holds it
  on neither strand.
- :func:`plant_genome`: a FASTA of random contigs (any names) with motif sites on both strands, including sites
  at the first and last bases of a contig; returns the sites (0-based half-open, reference orientation).
- :func:`plant_variants`: SNVs that break a motif site (label 1) and neutral SNVs at least ``min_distance``
  bases from every site (label 0), as a TSV (``chrom, pos, ref, alt, id, label``; pos 1-based) and/or a VCF.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write_text
from ..sequence import reverse_complement

__all__ = ["MOTIF", "Site", "plant_genome", "plant_task", "plant_variants", "write_vcf"]

MOTIF = "TGACTCAGCA"


@dataclass(frozen=True)
class Site:
    contig: str
    start: int  # 0-based, reference orientation
    end: int
    strand: str  # "+": the motif reads on the plus strand; "-": its reverse complement does


def _random_dna(rng: random.Random, n: int, motif: str) -> str:
    """Random ACGT of length n without the motif on either strand."""
    while True:
        s = "".join(rng.choice("ACGT") for _ in range(n))
        if motif not in s and reverse_complement(motif) not in s:
            return s


def _decoy(rng: random.Random, motif: str) -> str:
    """The motif with one base substituted (a near miss the classifier must learn to reject)."""
    i = rng.randrange(len(motif))
    return motif[:i] + rng.choice([b for b in "ACGT" if b != motif[i]]) + motif[i + 1 :]


def plant_task(
    folder: str | Path,
    n: int = 400,
    length: int = 100,
    motif: str = MOTIF,
    seed: int = 0,
    decoys: float = 0.5,
) -> Path:
    """Write ``train.csv`` (n rows), ``dev.csv`` and ``test.csv`` (n/4 rows each), balanced labels.

    A fraction ``decoys`` of the label-0 sequences holds the motif with one base substituted, so a classifier
    has to read every base of the motif (a single SNV in it then changes the prediction)."""
    rng = random.Random(seed)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", n), ("dev", max(n // 4, 8)), ("test", max(n // 4, 8))):
        lines = ["sequence,label"]
        for i in range(rows):
            s = _random_dna(rng, length, motif)
            label = i % 2
            m = motif if label else _decoy(rng, motif) if rng.random() < decoys else ""
            if m:
                m = m if rng.random() < 0.5 else reverse_complement(m)
                at = rng.randrange(0, length - len(m) + 1)
                s = s[:at] + m + s[at + len(m) :]
            lines.append(f"{s},{label}")
        atomic_write_text(out / f"{split}.csv", "\n".join(lines) + "\n")
    return out


def plant_genome(
    path: str | Path,
    contigs: dict[str, int] | None = None,
    sites_per_contig: int = 8,
    motif: str = MOTIF,
    seed: int = 0,
) -> list[Site]:
    """Write a FASTA genome with motif sites (both strands, contig edges included); returns the sites."""
    rng = random.Random(seed)
    contigs = contigs or {"chrA": 4000, "scaffold_2": 3000, "plasmid.1": 2500}
    sites: list[Site] = []
    records = []
    m = len(motif)
    for name, length in contigs.items():
        seq = list(_random_dna(rng, length, motif))
        slots = [0, length - m]  # the first and the last bases of the contig
        while len(slots) < sites_per_contig:
            at = rng.randrange(m, length - 2 * m)
            if all(abs(at - s) > 6 * m for s in slots):
                slots.append(at)
        for k, at in enumerate(sorted(slots)):
            strand = "+" if k % 2 == 0 else "-"
            seq[at : at + m] = motif if strand == "+" else reverse_complement(motif)
            sites.append(Site(name, at, at + m, strand))
        text = "".join(seq)
        records.append(
            f">{name} planted motif {motif}\n" + "\n".join(text[i : i + 60] for i in range(0, length, 60))
        )
    atomic_write_text(path, "\n".join(records) + "\n")
    return sites


def plant_variants(
    genome: dict[str, str],
    sites: list[Site],
    n_neutral: int | None = None,
    min_distance: int = 100,
    seed: int = 0,
) -> list[dict[str, object]]:
    """One motif-breaking SNV per site (label 1) and ``n_neutral`` SNVs far from every site (label 0)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for k, s in enumerate(sites):
        at = rng.randrange(s.start, s.end)
        ref = genome[s.contig][at]
        rows.append(
            {
                "chrom": s.contig,
                "pos": at + 1,
                "ref": ref,
                "alt": rng.choice([b for b in "ACGT" if b != ref]),
                "id": f"break{k}",
                "label": 1,
            }
        )
    n_neutral = len(sites) if n_neutral is None else n_neutral
    names = sorted(genome)
    made = 0
    while made < n_neutral:
        c = rng.choice(names)
        at = rng.randrange(0, len(genome[c]))
        if any(s.contig == c and s.start - min_distance <= at < s.end + min_distance for s in sites):
            continue
        ref = genome[c][at]
        rows.append(
            {
                "chrom": c,
                "pos": at + 1,
                "ref": ref,
                "alt": rng.choice([b for b in "ACGT" if b != ref]),
                "id": f"neutral{made}",
                "label": 0,
            }
        )
        made += 1
    return rows


def write_tsv(rows: list[dict[str, object]], path: str | Path) -> Path:
    cols = ["chrom", "pos", "ref", "alt", "id", "label"]
    lines = ["\t".join(cols)] + ["\t".join(str(r[c]) for c in cols) for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)


def write_vcf(rows: list[dict[str, object]], path: str | Path, contigs: dict[str, int]) -> Path:
    """A sorted VCF 4.2 of ``rows`` with the label as INFO ``LABEL`` (plain text; bgzip it with pysam if needed)."""
    order = {c: i for i, c in enumerate(contigs)}
    head = [
        "##fileformat=VCFv4.2",
        *(f"##contig=<ID={c},length={n}>" for c, n in contigs.items()),
        '##INFO=<ID=LABEL,Number=1,Type=Integer,Description="1 = breaks a planted motif">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    body = [
        f"{r['chrom']}\t{r['pos']}\t{r['id']}\t{r['ref']}\t{r['alt']}\t.\tPASS\tLABEL={r['label']}"
        for r in sorted(rows, key=lambda r: (order[str(r["chrom"])], int(str(r["pos"]))))
    ]
    atomic_write_text(path, "\n".join(head + body) + "\n")
    return Path(path)
