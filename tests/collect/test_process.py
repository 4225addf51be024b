"""`process` on real genomes: QC report arithmetic, survival, split separation, determinism, QC step behaviour."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from genomefactory.collect.config import ProcessConfig, QCConfig
from genomefactory.collect.leakage import leakage_check, shared_kmer_report
from genomefactory.collect.process import run_process
from genomefactory.collect.qc import QCError, run_qc
from genomefactory.collect.segment import SeqBatch, read_genome
from genomefactory.sequence import reverse_complement

GENOMES = ["lambda_NC_001416.1.fasta.gz", "GCF_001457455.1_NCTC11397_genomic.fna.gz", "NC_000932.gb"]


def species_cfg(shared_data: Path, out: Path, **kw: object) -> ProcessConfig:
    genomes = [{"path": shared_data / "genomes" / g, "label": g.split("_")[0]} for g in GENOMES]
    base = {
        "task": "species",
        "output_dir": out,
        "plots": False,
        "seed": 7,
        "species": {"genomes": genomes, "fragments_per_species": 600, "length": {"min": 300, "max": 600}},
    }
    return ProcessConfig.model_validate({**base, **kw})


def read_split(out: Path, split: str) -> list[tuple[str, int]]:
    with open(out / f"{split}.csv") as fh:
        assert fh.readline() == "sequence,label\n"
        return [(r[0], int(r[1])) for r in csv.reader(fh)]


def test_species_dataset_on_real_genomes(shared_data: Path, tmp_path: Path) -> None:
    res = run_process(species_cfg(shared_data, tmp_path / "a"))
    rep = json.loads(res.qc_report.read_text())
    n = rep["initial"]
    assert n == 3 * 600
    for step in rep["steps"]:  # chained counts add up, and each step's reasons explain its removals
        assert step["before"] == n and step["before"] - step["removed"] == step["after"]
        assert sum(step["reasons"].values()) == step["removed"]
        n = step["after"]
    assert n == rep["after_qc"] == sum(rep["split_counts"].values())
    for label, count in rep["split_counts_by_label"]["train"].items():
        total = sum(rep["split_counts_by_label"][s].get(label, 0) for s in ("train", "dev", "test"))
        assert total >= 0.95 * 600, (label, count)  # default QC keeps >= 95% of a real genome's fragments
    assert res.labels == {0: "lambda", 1: "GCF", 2: "NC"}
    splits = {s: read_split(res.output_dir, s) for s in ("train", "dev", "test")}
    assert all(300 <= len(seq) <= 600 for rows in splits.values() for seq, _ in rows)
    keys = {s: {min(q, reverse_complement(q)) for q, _ in rows} for s, rows in splits.items()}
    assert not (keys["train"] & keys["dev"] or keys["train"] & keys["test"] or keys["dev"] & keys["test"])
    # independent check that lambda fragments of different splits never share a genome base
    (lam,) = read_genome(shared_data / "genomes" / GENOMES[0])
    text = lam.seq.tobytes().decode()
    cover = {}
    for s, rows in splits.items():
        mask = np.zeros(len(text), dtype=bool)
        for seq, label in rows:
            if label == 0:
                i = text.find(seq)
                assert i >= 0
                mask[i : i + len(seq)] = True
        cover[s] = mask
    assert not (cover["train"] & cover["test"]).any() and not (cover["train"] & cover["dev"]).any()
    assert (res.output_dir / "manifest.json").is_file() and (res.output_dir / "labels.json").is_file()


def test_seeded_and_reverse_complement(shared_data: Path, tmp_path: Path) -> None:
    a = run_process(species_cfg(shared_data, tmp_path / "a", split={"reverse_complement": True}))
    b = run_process(species_cfg(shared_data, tmp_path / "b", split={"reverse_complement": True}))
    for s in ("train", "dev", "test"):
        assert (a.output_dir / f"{s}.csv").read_text() == (b.output_dir / f"{s}.csv").read_text()
    train = read_split(a.output_dir, "train")
    seqs = {q for q, _ in train}
    assert all(reverse_complement(q) in seqs for q, _ in train)
    rep = json.loads(a.qc_report.read_text())
    assert a.counts["train"] == len(train)
    assert len(train) % 2 == 0 and rep["reverse_complement_augmented"] is True


def batch(seqs: list[str], labels: list[int]) -> SeqBatch:
    n = len(seqs)
    return SeqBatch.from_sequences(
        [s.encode() for s in seqs], np.array(labels), np.arange(n), np.arange(n), np.zeros(n)
    )


def test_ambiguous_modes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seqs = ["ACGTRYACGT" * 10, "ACGT" * 25, "NNNNNNNNNN" + "ACGT" * 10]
    b = batch(seqs, [0, 0, 0])
    out, e = run_qc(b, QCConfig(steps=["ambiguous"], ambiguous="mask", max_n_fraction=0.3), rng)
    assert out.sequences()[0] == "ACGTNNACGT" * 10 and e[0]["bases_masked"] == 20 and len(out) == 3
    assert b.sequences()[0] == seqs[0]  # the input batch is not modified
    out, e = run_qc(b, QCConfig(steps=["ambiguous"], ambiguous="resolve", max_n_fraction=0.3), rng)
    resolved = out.sequences()[0]
    assert all(resolved[i] in "AG" for i in range(4, 100, 10)) and all(
        resolved[i] in "CT" for i in range(5, 100, 10)
    )
    assert e[0]["bases_resolved"] == 30 and len(out) == 3 and set(out.sequences()[2]) <= set("ACGT")
    # max_n_fraction holds in resolve mode too: a run of N (an assembly gap) is not turned into random bases
    out, e = run_qc(b, QCConfig(steps=["ambiguous"], ambiguous="resolve", max_n_fraction=0.0), rng)
    assert len(out) == 2 and e[0]["reasons"] == {"n_fraction_above_max": 1}
    assert all("N" not in s for s in out.sequences()) and out.sequences()[1] == seqs[1]
    out, e = run_qc(b, QCConfig(steps=["ambiguous"], ambiguous="drop"), rng)
    assert out.sequences() == [seqs[1]] and e[0]["reasons"] == {"has_ambiguous_base": 2}


def test_step_removing_everything_is_an_error() -> None:
    b = batch(["AAAATTTTAA" * 10, "ATATATATAT" * 10], [0, 1])
    with pytest.raises(QCError, match=r"QC step 'gc' would remove all 2 sequences.*gc_below_min: 2"):
        run_qc(b, QCConfig(steps=["gc"], gc_min=0.4), np.random.default_rng(0))


def test_duplicates_and_leakage() -> None:
    s = "ACGGTCAAGTCCATGCAAGT" * 5
    b = batch([s, s, reverse_complement(s), "T" + s[1:]], [0, 0, 0, 0])
    out, e = run_qc(b, QCConfig(steps=["duplicates"]), np.random.default_rng(0))
    assert len(out) == 2 and e[0]["reasons"] == {"exact_duplicate": 1, "reverse_complement_duplicate": 1}
    with pytest.raises(QCError, match="1 sequence"):
        leakage_check(batch([s, reverse_complement(s)], [0, 0]), np.array([0, 2]))
    overlap = batch(["A" * 50, "C" * 50], [0, 0])
    overlap.contig[:] = 0
    overlap.start[:] = [0, 30]  # [0, 50) and [30, 80) overlap
    with pytest.raises(QCError, match="1 overlapping"):
        leakage_check(overlap, np.array([0, 1]))


def test_rare_kmers_is_capped_and_composition_uses_own_background() -> None:
    rng = np.random.default_rng(3)
    at_rich = ["".join(rng.choice(list("ACGT"), p=[0.35, 0.15, 0.15, 0.35], size=400)) for _ in range(900)]
    odd = ["AC" * 200 for _ in range(100)]  # 10% weird profiles
    b = batch(at_rich + odd, [0] * 1000)
    _, e = run_qc(b, QCConfig(steps=["rare_kmers"]), rng)
    assert e[0]["capped"] and e[0]["removed"] == 10  # never more than rare_max_fraction (1%)
    _out, e = run_qc(batch(at_rich, [0] * 900), QCConfig(steps=["composition"]), rng)
    assert e[0]["removed"] <= 9  # 30% GC is this class's background, not an outlier
    assert e[0]["background_ACGT"]["0"][0] == pytest.approx(0.35, abs=0.01)


def test_process_config_errors() -> None:
    from genomefactory.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="needs a `species:` section"):
        load_config(ProcessConfig, overrides={"task": "species"})
    with pytest.raises(ConfigError, match="must sum to 1"):
        load_config(
            ProcessConfig,
            overrides={"split": {"train": 0.9, "dev": 0.1, "test": 0.1}, "species": {"input_dir": "x"}},
        )
    with pytest.raises(ConfigError, match=r"unknown key .qc\.stepz."):
        load_config(ProcessConfig, overrides={"qc": {"stepz": []}, "species": {"input_dir": "x"}})


def test_repeat_leakage_is_measured_like_a_brute_force_kmer_match(shared_data: Path, tmp_path: Path) -> None:
    # The chloroplast's inverted repeat puts the same sequence (reverse-complemented) at two loci: splits that
    # share no base can still share sequence, and the report must say so rather than hide it.
    genomes = [{"path": shared_data / "genomes" / "NC_000932.gb", "label": "chloroplast"}]
    cfg = ProcessConfig.model_validate(
        {
            "task": "species",
            "output_dir": tmp_path,
            "plots": False,
            "seed": 3,
            "species": {"genomes": genomes, "fragments_per_species": 400, "length": {"min": 300, "max": 600}},
            "qc": {"repeat_leakage_report": True},
        }
    )
    rep = json.loads(run_process(cfg).qc_report.read_text())["repeat_leakage"]
    splits = {s: [q for q, _ in read_split(tmp_path, s)] for s in ("train", "dev", "test")}
    train = {
        min(x[i : i + 32], reverse_complement(x[i : i + 32]))
        for x in splits["train"]
        for i in range(len(x) - 31)
    }
    for name in ("dev", "test"):
        exact = sum(
            any(
                q[i : i + 32] in train or reverse_complement(q[i : i + 32]) in train
                for i in range(len(q) - 31)
            )
            for q in splits[name]
        )
        got = rep[name]["0"]
        assert got["rows"] == len(splits[name]) and got["sharing_with_train"] <= exact
        assert got["sharing_with_train"] >= 0.9 * exact  # sampling 1 in 16 k-mers misses only short matches
    assert rep["test"]["0"]["sharing_with_train"] + rep["dev"]["0"]["sharing_with_train"] > 0
    # unsampled, the kernel is exactly the brute force
    seqs = splits["train"] + splits["test"]
    n = len(seqs)
    b = batch(seqs, [0] * n)
    split = np.array([0] * len(splits["train"]) + [2] * len(splits["test"]))
    full = shared_kmer_report(b, split, keep_one_in=1)
    exact_test = sum(
        any(q[i : i + 32] in train or reverse_complement(q[i : i + 32]) in train for i in range(len(q) - 31))
        for q in splits["test"]
    )
    assert full["test"]["0"]["sharing_with_train"] == exact_test
