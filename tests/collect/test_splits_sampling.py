"""Species datasets: every class in every split (or a clear refusal), oversampling warnings, fragments drawn from
N-free stretches only (checked against a brute-force list of valid starts), and the output folder rules."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomefactory.collect.config import ProcessConfig
from genomefactory.collect.process import run_process
from genomefactory.collect.segment import (
    Contig,
    assign_splits,
    make_blocks,
    read_genome,
    sample_fragments,
    sampling_segments,
)
from genomefactory.errors import DataError
from genomefactory.io import OutputExistsError

LAMBDA = "lambda_NC_001416.1.fasta.gz"
CD = "GCF_001457455.1_NCTC11397_genomic.fna.gz"


def _lambda(shared_data: Path) -> str:
    (c,) = read_genome(shared_data / "genomes" / LAMBDA)
    return c.seq.tobytes().decode()


def _fasta(path: Path, seq: str, name: str = "scaffold1") -> Path:
    path.write_text(f">{name}\n" + "\n".join(seq[i : i + 80] for i in range(0, len(seq), 80)) + "\n")
    return path


def _cfg(out: Path, genomes: list[tuple[Path, str]], **species: Any) -> ProcessConfig:
    return ProcessConfig.model_validate(
        {
            "output_dir": out,
            "plots": False,
            "species": {
                "genomes": [{"path": p, "label": lab} for p, lab in genomes],
                "fragments_per_species": 1000,
                "length": {"min": 500, "max": 750},
                **species,
            },
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42])
def test_small_scaffold_class_is_in_every_split(shared_data: Path, tmp_path: Path, seed: int) -> None:
    scaffold = _fasta(tmp_path / "scaffold.fa", _lambda(shared_data)[:20_000])
    cfg = _cfg(tmp_path / "out", [(shared_data / "genomes" / CD, "big"), (scaffold, "small")])
    res = run_process(cfg.model_copy(update={"seed": seed}))
    rep = json.loads(res.qc_report.read_text())
    for split in ("train", "dev", "test"):
        assert set(rep["split_counts_by_label"][split]) == {"0", "1"}, (split, rep["split_counts_by_label"])
    rows = {s: (res.output_dir / f"{s}.csv").read_text().splitlines()[1:] for s in ("train", "dev", "test")}
    assert all({r.rsplit(",", 1)[1] for r in rows[s]} == {"0", "1"} for s in rows)
    # 1,000 x 500-750 bp from a 20 kb scaffold: about 31x coverage, said in the report and as a warning
    small = next(g for g in rep["build"]["genomes"] if g["label"] == 1)
    assert small["sampling"]["expected_coverage"] == pytest.approx(1000 * 625 / 20_000)
    assert (
        len(rep["warnings"]) == 1
        and "scaffold.fa" in rep["warnings"][0]
        and "31.2x coverage" in rep["warnings"][0]
    )
    big = next(g for g in rep["build"]["genomes"] if g["label"] == 0)
    assert "warning" not in big and big["sampling"]["expected_coverage"] < 1


def test_class_too_small_for_three_splits_is_refused(shared_data: Path, tmp_path: Path) -> None:
    from genomefactory.cli import main

    tiny = _fasta(tmp_path / "tiny.fa", _lambda(shared_data)[:5000])  # 2 blocks of >= 3 x 1000 bp
    cfg = tmp_path / "p.yaml"
    out = tmp_path / "out"
    cfg.write_text(
        json.dumps(
            {
                "output_dir": str(out),
                "plots": False,
                "species": {
                    "genomes": [
                        {"path": str(shared_data / "genomes" / LAMBDA), "label": "lambda"},
                        {"path": str(tiny), "label": "tiny_scaffold"},
                    ],
                    "fragments_per_species": 100,
                    "length": {"min": 800, "max": 1000},
                },
            }
        )
    )
    with pytest.raises(DataError, match=r"class 'tiny_scaffold' \(label 1\) has only 2 independent group"):
        run_process(ProcessConfig.model_validate(json.loads(cfg.read_text())))
    assert main(["process", str(cfg)]) == 2
    assert not out.exists()  # refused before the output folder was made
    # without a dev split the same data is enough
    assert main(["process", str(cfg), "split.train=0.8", "split.dev=0", "split.test=0.2"]) == 0
    rep = json.loads((out / "qc_report.json").read_text())
    assert set(rep["split_counts_by_label"]["test"]) == {"0", "1"}


def _gapped(shared_data: Path) -> str:
    """Lambda with 2 kb of N after every 2 kb of sequence (half the contig is N), plus a few short gaps."""
    lam = _lambda(shared_data)
    parts = []
    for i in range(0, 40_000, 2000):
        parts.append(lam[i : i + 2000] if (i // 2000) % 2 == 0 else "N" * 2000)
    seq = list("".join(parts))
    for pos in (500, 4300, 8123):
        seq[pos : pos + 3] = "NNN"
    return "".join(seq)


def _valid_starts(seq: np.ndarray, max_len: int) -> set[tuple[int, int]]:
    """Brute force: (block, start) of every window of max_len bp that holds no N and lies in one block."""
    _, bs, be = make_blocks([seq.size], 3 * max_len)
    ok = set()
    text = seq.tobytes()
    for b, (s0, e0) in enumerate(zip(bs, be, strict=True)):
        for s in range(int(s0), int(e0) - max_len + 1):
            if b"N" not in text[s : s + max_len]:
                ok.add((b, s))
    return ok


def test_fragments_come_from_n_free_stretches(shared_data: Path) -> None:
    seq = np.frombuffer(_gapped(shared_data).encode(), dtype=np.uint8)
    contigs = [Contig("gapped", seq)]
    stats: list[Any] = []
    b = sample_fragments(contigs, 3000, 100, 400, 0, np.random.default_rng(5), stats=stats)
    valid = _valid_starts(seq, 400)
    drawn = {(int(g), int(s)) for g, s in zip(b.groups, b.start, strict=True)}
    assert drawn <= valid  # every fragment window is N-free and inside its block
    # the sampler draws uniformly among exactly the valid starts: its pieces hold as many starts as brute force
    (_, blocks, first, room), _ = sampling_segments(contigs, 400)
    listed = {
        (int(g), int(f) + k) for g, f, r in zip(blocks, first, room, strict=True) for k in range(int(r))
    }
    assert listed == valid and int(room.sum()) == len(valid)
    for i in range(len(b)):
        n = int(b.lengths[i])
        assert b.mat[i, :n].tobytes() == seq[b.start[i] : b.start[i] + n].tobytes()
    info = stats[0]
    assert info.n_bases == int((seq == ord("N")).sum()) and info.gaps == 10 + 3
    assert info.n_bases + info.too_short_bp + info.sampleable_bp == info.bases == seq.size
    # sampleable bases: union of the valid windows, counted by brute force
    covered = np.zeros(seq.size, dtype=bool)
    for _, s in valid:
        covered[s : s + 400] = True
    assert info.sampleable_bp == int(covered.sum())


def test_gapped_assembly_keeps_its_fragments_and_reports_the_gaps(shared_data: Path, tmp_path: Path) -> None:
    gapped = tmp_path / "gapped.fa.gz"
    with gzip.open(gapped, "wt") as fh:
        fh.write(">gapped\n" + _gapped(shared_data) + "\n")
    cfg = _cfg(
        tmp_path / "out",
        [(shared_data / "genomes" / CD, "cd"), (gapped, "gapped")],
        fragments_per_species=300,
        length={"min": 200, "max": 400},
    )
    rep = json.loads(run_process(cfg).qc_report.read_text())
    kept = sum(rep["split_counts_by_label"][s].get("1", 0) for s in ("train", "dev", "test"))
    assert kept >= 0.95 * 300  # was under half: fragments were drawn inside the N gaps and dropped by QC
    sampling = next(g for g in rep["build"]["genomes"] if g["label"] == 1)["sampling"]
    assert sampling["n_bases"] == _gapped(shared_data).count("N") and sampling["gaps"] == 13
    assert sampling["skipped_bp"] == sampling["n_bases"] + sampling["too_short_bp"]
    ambiguous = next(s for s in rep["steps"] if s["step"] == "ambiguous")
    assert ambiguous["removed"] == 0


def test_process_refuses_a_non_empty_output_folder(shared_data: Path, tmp_path: Path) -> None:
    cfg = _cfg(
        tmp_path / "out",
        [(shared_data / "genomes" / LAMBDA, "a"), (shared_data / "genomes" / CD, "b")],
        fragments_per_species=60,
    )
    run_process(cfg)
    before = (tmp_path / "out" / "train.csv").read_text()
    with pytest.raises(OutputExistsError, match=r"output_dir .*out is not empty .*overwrite=true"):
        run_process(cfg.model_copy(update={"seed": 1}))
    assert (tmp_path / "out" / "train.csv").read_text() == before  # untouched
    again = run_process(cfg.model_copy(update={"seed": 1, "overwrite": True}))
    assert (again.output_dir / "train.csv").read_text() != before
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OSError, match="is not a folder"):
        run_process(cfg.model_copy(update={"output_dir": tmp_path / "afile"}))


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.lists(st.integers(1, 40), min_size=1, max_size=12), min_size=1, max_size=4),
    dev=st.sampled_from([0.0, 0.05, 0.1, 0.2]),
    seed=st.integers(0, 2**16),
)
def test_assign_splits_every_class_everywhere_or_refuses(
    sizes: list[list[int]], dev: float, seed: int
) -> None:
    """Groups of each class (sizes = rows per group): every class lands in every split with a fraction above 0
    when it has enough groups; otherwise the error names the class. Groups are never cut."""
    labels, groups = [], []
    g = 0
    for lab, class_sizes in enumerate(sizes):
        for n in class_sizes:
            labels += [lab] * n
            groups += [g] * n
            g += 1
    labels_a, groups_a = np.array(labels), np.array(groups)
    fractions = (0.9 - dev, dev, 0.1)
    needed = [k for k in range(3) if fractions[k] > 0]
    names = {lab: f"c{lab}" for lab in range(len(sizes))}
    short = [lab for lab, s in enumerate(sizes) if len(s) < len(needed)]
    if short:
        with pytest.raises(DataError, match=f"class 'c{short[0]}'"):
            assign_splits(groups_a, labels_a, fractions, np.random.default_rng(seed), names)
        return
    split = assign_splits(groups_a, labels_a, fractions, np.random.default_rng(seed), names)
    for grp in np.unique(groups_a):
        assert np.unique(split[groups_a == grp]).size == 1
    for lab in range(len(sizes)):
        assert set(np.unique(split[labels_a == lab]).tolist()) == set(needed)
