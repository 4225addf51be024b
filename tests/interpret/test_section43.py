"""Paper §4.3 in shape on real genomes: random 500–1,000 bp segments of phage lambda and C. diphtheriae,
tiny-model embeddings, a 4,096-latent SAE, regression on length, GC and species (fewer segments and steps than
the full run in benchmarks/section43_interpretation.py, to stay fast on one CPU core)."""

from __future__ import annotations

import json
from pathlib import Path

from genomefactory.interpret.demo import run_small_interpretation, segment_genomes, write_segments_csv

GENOMES = {
    "lambda": "genomes/lambda_NC_001416.1.fasta.gz",
    "cdiphtheriae": "genomes/GCF_001457455.1_NCTC11397_genomic.fna.gz",
}


def test_segments_are_random_valid_and_reproducible(shared_data: Path) -> None:
    paths = {k: shared_data / v for k, v in GENOMES.items()}
    a = segment_genomes(paths, 50, seed=3)
    assert a.equals(segment_genomes(paths, 50, seed=3))
    assert len(a) == 100 and set(a["species"]) == set(GENOMES)
    assert a["sequence"].str.len().between(500, 1000).all()
    assert (a["end"] - a["start"] == a["sequence"].str.len()).all()
    assert a["sequence"].str.fullmatch("[ACGT]+").all()


def test_section43_shape(shared_data: Path, tmp_path: Path) -> None:
    segs = segment_genomes({k: shared_data / v for k, v in GENOMES.items()}, 150, seed=0)
    csv = write_segments_csv(segs, tmp_path / "segments.csv")
    report_path = run_small_interpretation(csv, None, tmp_path / "run", d_hidden=4096, steps=150)
    report = json.loads(Path(report_path).read_text())
    assert report["d_hidden"] == 4096 and report["n_sequences"] == 300
    assert set(report["readouts"]) == {"length", "gc", "species=lambda"}
    for info in report["readouts"].values():
        assert len(info["top_units"]) == 10
        assert all(0 <= u["unit"] < 4096 and -1 <= u["pearson_r"] <= 1 for u in info["top_units"])
    # lambda (49.9% GC) and C. diphtheriae (53.5% GC) differ in composition, which even a random model's
    # embedding reflects: units must be linked to GC and to the species
    assert report["readouts"]["gc"]["n_significant"] > 0
    assert report["readouts"]["gc"]["ridge"]["pearson_cv"] > 0.3
    assert report["readouts"]["species=lambda"]["ridge"]["pearson_cv"] > 0.1
    metrics = json.loads((tmp_path / "run" / "sae" / "metrics.json").read_text())
    assert 0 < metrics["fve"] <= 1 and metrics["mean_l0"] <= 16
