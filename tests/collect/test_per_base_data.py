"""``per_base_data``: labels checked by hand against the annotation (real chloroplast GenBank), GTF/GFF + FASTA
(1-based rows converted, minus-strand introns), bigWig values, strands and splits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genomefactory.collect.per_base_config import PerBaseDataConfig
from genomefactory.collect.tasks.per_base import CLASSES, run_per_base_data
from genomefactory.config import validate_dict
from genomefactory.sequence import reverse_complement

INTERGENIC, EXON, INTRON, EXON_AS, INTRON_AS = range(5)


def _build(tmp_path: Path, **cfg: object) -> Path:
    out = tmp_path / "task"
    run_per_base_data(validate_dict(PerBaseDataConfig, {"output_dir": str(out), **cfg}))
    return out


def _genome_track(out: Path, length: int, strand: str) -> np.ndarray:
    """The per-base classes of every window of ``strand``, put back on the reference (-1 = no window)."""
    track = np.full(length, -1)
    for split in ("train", "dev", "test"):
        df = pd.read_csv(out / f"{split}.tsv", sep="\t")
        for row in df[df["strand"] == strand].itertuples():
            lab = np.array(row.label.split(","), dtype=int)
            track[row.start : row.end] = lab[::-1] if strand == "-" else lab
    return track


def test_chloroplast_genes_by_hand(shared_data: Path, tmp_path: Path) -> None:
    gb = shared_data / "genomes/NC_000932.gb"
    text = gb.read_text()
    # the three genes as the GenBank file writes them (1-based, closed); converted by hand below
    assert "CDS             complement(383..1444)" in text  # psbA: one exon, minus strand
    assert re.search(r"CDS\s+complement\(join\(5084\.\.5283,6149\.\.6188\)\)", text)  # rps16: 2 exons, minus
    assert re.search(r"tRNA\s+join\(8646\.\.8668,9383\.\.9431\)", text)  # trnG: 2 exons, plus
    out = _build(tmp_path, genome=str(gb), window=1000, strands="both")
    plus, minus = _genome_track(out, 154478, "+"), _genome_track(out, 154478, "-")
    # psbA [382, 1444): antisense exon on a + window, exon on a - window; its flanks are intergenic
    assert (plus[382:1444] == EXON_AS).all() and (minus[382:1444] == EXON).all()
    assert plus[381] == INTERGENIC and plus[1444] == INTERGENIC and minus[1444] == INTERGENIC
    # rps16: exons [5083, 5283) and [6148, 6188), intron [5283, 6148)
    assert (plus[5083:5283] == EXON_AS).all() and (plus[6148:6188] == EXON_AS).all()
    assert (plus[5283:6148] == INTRON_AS).all() and (minus[5283:6148] == INTRON).all()
    assert plus[5082] == INTERGENIC and plus[6188] == INTERGENIC
    # trnG (plus strand): exons [8645, 8668) and [9382, 9431), intron [8668, 9382)
    assert (plus[8645:8668] == EXON).all() and (plus[9382:9431] == EXON).all()
    assert (plus[8668:9382] == INTRON).all() and (minus[8668:9382] == INTRON_AS).all()
    assert plus[8644] == INTERGENIC and plus[9431] == INTERGENIC
    # the trans-spliced rps12 parts (tens of kb apart) are not joined into an intron
    assert not (plus[69724:97998] == INTRON_AS).all()
    # sequences: the reference window, or its reverse complement on '-'
    test = pd.read_csv(out / "test.tsv", sep="\t")
    from genomefactory.collect.segment import read_genome

    genome = read_genome(gb)[0].seq.tobytes().decode()
    for row in test.itertuples():
        ref = genome[row.start : row.end]
        assert row.sequence == (reverse_complement(ref) if row.strand == "-" else ref)
    # a window group (and both strands of a window) never straddles two splits
    where = {}
    for split in ("train", "dev", "test"):
        for start in pd.read_csv(out / f"{split}.tsv", sep="\t")["start"]:
            assert where.setdefault(start // 10000, split) == split
    assert (out / "classes.json").is_file() and len(CLASSES) == 5


def test_gtf_and_fasta(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 400))
    (tmp_path / "g.fa").write_text(f">chrA\n{seq}\n")
    gtf = [
        # minus-strand transcript, exons 101..150 and 201..260 (1-based closed) -> [100,150), [200,260)
        'chrA\tt\texon\t201\t260\t.\t-\t.\tgene_id "g1"; transcript_id "t1";',
        'chrA\tt\texon\t101\t150\t.\t-\t.\tgene_id "g1"; transcript_id "t1";',
        'chrZ\tt\texon\t1\t10\t.\t+\t.\tgene_id "g2"; transcript_id "t2";',  # not in the genome: reported
    ]
    (tmp_path / "a.gtf").write_text("\n".join(gtf) + "\n")
    out = _build(
        tmp_path,
        genome=str(tmp_path / "g.fa"),
        annotation=str(tmp_path / "a.gtf"),
        window=40,
        group_windows=1,
    )
    plus = _genome_track(out, 400, "+")
    want = np.zeros(400, dtype=int)
    want[100:150] = want[200:260] = EXON_AS
    want[150:200] = INTRON_AS
    assert (plus == want).all()
    import json

    report = json.loads((out / "per_base_report.json").read_text())
    assert report["annotation"]["rows_on_unknown_chromosomes"] == 1


def test_bigwig_signal(tmp_path: Path) -> None:
    import pyBigWig

    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 300))
    (tmp_path / "g.fa").write_text(f">chr1\n{seq}\n")
    values = rng.normal(size=250)
    bw = pyBigWig.open(str(tmp_path / "s.bw"), "w")
    bw.addHeader([("chr1", 300)])
    bw.addEntries("chr1", 0, values=values.tolist(), span=1, step=1)  # bases 250.. have no value
    bw.close()
    out = _build(
        tmp_path,
        genome=str(tmp_path / "g.fa"),
        signal=str(tmp_path / "s.bw"),
        window=50,
        strands="both",
        group_windows=1,
    )
    rows = pd.concat([pd.read_csv(out / f"{s}.tsv", sep="\t") for s in ("train", "dev", "test")])
    assert sorted(set(rows["start"])) == [0, 50, 100, 150, 200]  # [250, 300) has no value at all: dropped
    for row in rows.itertuples():
        got = np.array(row.label.split(","), dtype=float)
        ref = values[row.start : row.end]
        np.testing.assert_allclose(got[::-1] if row.strand == "-" else got, ref, rtol=1e-5)
    assert not (out / "classes.json").exists()


def test_fasta_without_annotation_is_refused(tmp_path: Path) -> None:
    from genomefactory.errors import DataError

    (tmp_path / "g.fa").write_text(">c\n" + "ACGT" * 50 + "\n")
    with pytest.raises(DataError, match="give annotation"):
        _build(tmp_path, genome=str(tmp_path / "g.fa"), window=20)
    assert not (tmp_path / "task").exists()
