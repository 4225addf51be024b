"""Task builders on real annotation excerpts with a small matching genome built from real sequence.

The genome's chromosomes carry other naming schemes than the annotations (``1`` vs ``chr1``, ``2L`` vs
``chr2L``, ``NC_004354.4`` vs ``X``/``chrX``) so name harmonisation is exercised; coordinates are checked
against the genome directly (GTF 1-based closed at the boundary, 0-based half-open inside).
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from genomefactory.collect.config import ProcessConfig
from genomefactory.collect.process import run_process
from genomefactory.sequence import reverse_complement


def write_genome(path: Path, chroms: dict[str, str]) -> Path:
    with open(path, "w") as fh:
        for name, seq in chroms.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    return path


def rows(out: Path) -> dict[str, int]:
    seqs: dict[str, int] = {}
    for split in ("train", "dev", "test"):
        with open(out / f"{split}.csv") as fh:
            for r in csv.DictReader(fh):
                seqs[r["sequence"]] = int(r["label"])
    return seqs


def gtf_rows(path: Path, feature: str) -> list[list[str]]:
    with gzip.open(path, "rt") as fh:
        return [ln.split("\t") for ln in fh if not ln.startswith("#") and ln.split("\t")[2] == feature]


def process(tmp: Path, task: str, region: dict, **qc: object) -> tuple[Path, dict]:
    cfg = ProcessConfig.model_validate(
        {"task": task, "output_dir": tmp / "out", "region": region, "plots": False, "seed": 1, "qc": qc}
    )
    res = run_process(cfg)
    return res.output_dir, json.loads(res.qc_report.read_text())


def test_promoter_from_gencode_gtf(tmp_path: Path, shared_data: Path, real_dna: str) -> None:
    dna = real_dna[:1_600_000]
    genome = write_genome(tmp_path / "g.fa", {"1": dna})  # Ensembl-style name; the GTF says chr1
    gtf = shared_data / "annotations" / "gencode_human.gtf.gz"
    out, rep = process(tmp_path, "promoter", {"genome": genome, "annotation": gtf})
    got = rows(out)
    tx = gtf_rows(gtf, "transcript")
    plus = next(r for r in tx if r[6] == "+")
    minus = next(r for r in tx if r[6] == "-")
    tss = int(plus[3]) - 1  # GTF 1-based start -> 0-based TSS
    assert got.get(dna[tss - 249 : tss + 51]) == 1
    tss = int(minus[4]) - 1  # minus strand: the TSS is the GTF end
    assert got.get(reverse_complement(dna[tss - 50 : tss + 250])) == 1
    assert {len(s) for s in got} == {300}
    assert (
        rep["build"]["tss_unknown_chromosome"] == 0 and rep["build"]["negatives"] == rep["build"]["positives"]
    )
    assert sum(s["removed"] for s in rep["steps"]) == rep["initial"] - rep["after_qc"]
    assert set(got.values()) == {0, 1}


def test_enhancer_bed_with_harmonised_names(tmp_path: Path, shared_data: Path, real_dna: str) -> None:
    dna = real_dna[:2_400_000]
    genome = write_genome(tmp_path / "g.fa", {"2L": dna})  # Ensembl-style name; the BED says chr2L
    bed = shared_data / "annotations" / "CTCF_Kc_Bushey_2009.bed"
    region = {"genome": genome, "annotation": bed, "max_length": 400, "min_length": 60}
    out, rep = process(tmp_path, "enhancer", region, steps=["length", "ambiguous", "duplicates"])
    got = rows(out)
    records = [ln.split() for ln in bed.read_text().splitlines() if ln.startswith("chr")]
    lines = [r for r in records if r[0] == "chr2L"]
    inside = [r for r in lines if int(r[2]) <= len(dna)]
    short = next(r for r in inside if 60 <= int(r[2]) - int(r[1]) <= 400)
    assert got[dna[int(short[1]) : int(short[2])]] == 1  # BED is 0-based half-open: no shift
    s, e = next((int(r[1]), int(r[2])) for r in inside if int(r[2]) - int(r[1]) > 400)
    c = s + (e - s - 400) // 2
    assert got[dna[c : c + 400]] == 1  # centre crop
    b = rep["build"]
    assert b["region_unknown_chromosome"] == len(records) - len(lines)
    assert b["region_outside_genome"] == len(lines) - len(inside)
    assert b["region_shorter_than_min"] == sum(int(r[2]) - int(r[1]) < 60 for r in inside)
    pos_len = sorted(len(x) for x, lab in got.items() if lab == 1)
    neg_len = sorted(len(x) for x, lab in got.items() if lab == 0)
    assert abs(np.median(pos_len) - np.median(neg_len)) <= 5  # matched-length negatives
    _out2, rep2 = process(
        tmp_path / "norm", "enhancer", region, steps=["ambiguous", "duplicates", "gc_normalize"], gc_bins=10
    )
    gc_norm = rep2["steps"][-1]
    assert (
        gc_norm["histogram_after"]["0"] == gc_norm["histogram_after"]["1"] != gc_norm["histogram_before"]["1"]
    )


def test_histone_bigwig_with_assembly_report(tmp_path: Path, shared_data: Path, real_dna: str) -> None:
    dna = (real_dna * 2)[:3_500_000]
    genome = write_genome(tmp_path / "g.fa", {"NC_004354.4": dna})
    report = tmp_path / "assembly_report.txt"
    report.write_text(
        "# Sequence-Name\tSequence-Role\tAssigned-Molecule\tAssigned-Molecule-Location/Type\tGenBank-Accn\t"
        "Relationship\tRefSeq-Accn\tAssembly-Unit\tSequence-Length\tUCSC-style-name\n"
        "X\tassembled-molecule\tX\tChromosome\tAE014298.4\t=\tNC_004354.4\tPrimary Assembly\t23542271\tchrX\n"
    )
    gtf = shared_data / "tracks" / "dm3_subset_BDGP5.78.gtf.gz"
    bw_path = shared_data / "tracks" / "bigwig_chrx_2e6_5e6.bw"
    out, rep = process(
        tmp_path,
        "histone",
        {
            "genome": genome,
            "annotation": gtf,
            "signal": bw_path,
            "chrom_aliases": report,
            "max_length": 1000,
            "min_length": 100,
        },
        steps=["length", "ambiguous", "duplicates"],
    )
    got = rows(out)
    b = rep["build"]
    assert b["gene_unknown_chromosome"] == 0 and b["high"] + b["low"] == rep["initial"]
    bw = pyBigWig.open(str(bw_path))
    means = []
    for r in gtf_rows(gtf, "gene"):
        s, e = int(r[3]) - 1, int(r[4])  # GTF 1-based closed -> 0-based half-open
        if e <= len(dna) and e - s >= 100:
            means.append((r, bw.stats("chrX", s, e, type="mean", exact=True)[0]))
    with_signal = [(r, m) for r, m in means if m is not None]
    assert b["gene_without_signal"] == len(means) - len(with_signal) > 0
    assert b["threshold"] == pytest.approx(float(np.median([m for _, m in with_signal])))
    assert b["high"] == sum(m > b["threshold"] for _, m in with_signal)
    small = next((r, m) for r, m in with_signal if int(r[4]) - int(r[3]) + 1 <= 1000)
    r, m = small
    body = dna[int(r[3]) - 1 : int(r[4])]
    seq = reverse_complement(body) if r[6] == "-" else body
    assert got[seq] == int(m > b["threshold"])


def test_negatives_on_both_strands_outside_positives(tmp_path: Path, real_dna: str) -> None:
    import pandas as pd

    from genomefactory.collect.tasks.common import Genome, sample_negatives

    dna = real_dna[:200_000]
    genome = Genome(write_genome(tmp_path / "g.fa", {"chr1": dna}))
    pos = pd.DataFrame(
        {"chrom": ["chr1"] * 50, "start": np.arange(50) * 4000, "end": np.arange(50) * 4000 + 300}
    )
    neg = sample_negatives(np.full(400, 300), ["chr1"], genome, pos, np.random.default_rng(0))
    assert set(neg["strand"]) == {"+", "-"} and 120 < (neg["strand"] == "-").sum() < 280
    assert ((neg["start"] % 4000) >= 300).all() and ((neg["start"] % 4000) + 300 <= 4000).all()
    row = neg[neg["strand"] == "-"].iloc[0]
    assert genome.fetch("chr1", int(row.start), int(row.end), "-").decode() == reverse_complement(
        dna[row.start : row.end]
    )
