"""The `attribute` command end to end on tiny trained runs: outputs present and consistent with the API,
bigWig values at the right reference coordinates on both strands, and bad inputs refused with clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genomefactory.cli import main
from genomefactory.config import ConfigError, validate_dict
from genomefactory.errors import UserError
from genomefactory.interpret.attrib import attribute, load_predictor
from genomefactory.interpret.attribute.config import AttributeConfig
from genomefactory.interpret.attribute.run import run_attribute
from genomefactory.sequence import reverse_complement
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.variants.demo import plant_task

LAMBDA = "NC_001416.1"


def _train(root: Path, data: Path, family: str, task: str = "classification") -> Path:
    cfg = {
        "model": {"family": family, "init": "tiny"},
        "data": {"path": str(data)},
        "task": {"type": task},
        "method": {"name": "full"},
        "training": {"max_steps": 3, "batch_size": 16, "eval_steps": 100, "logging_steps": 100, "seed": 0},
        "output_dir": str(root / f"run_{family}_{task}"),
    }
    run_train(validate_dict(TrainConfig, cfg))
    return root / f"run_{family}_{task}"


@pytest.fixture(scope="module")
def char_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny hyenadna (one token per base) classifier trained 3 steps on planted-motif sequences."""
    root = tmp_path_factory.mktemp("attr")
    return _train(root, plant_task(root / "task", n=64, length=40, seed=0), "hyenadna")


@pytest.fixture(scope="module")
def lambda_seq(shared_data: Path) -> str:
    raw = gzip.decompress((shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz").read_bytes()).decode()
    return "".join(line.strip() for line in raw.splitlines()[1:]).upper()


def _intervals() -> list[tuple[int, int, str]]:
    return [(1000, 1036, "+"), (5000, 5036, "-"), (20000, 20030, "+"), (30000, 30036, "-")]


def _lambda_fasta(path: Path, genome: str, style: str = "bedtools") -> list[str]:
    seqs, lines = [], []
    for a, b, strand in _intervals():
        s = genome[a:b] if strand == "+" else reverse_complement(genome[a:b])
        start = a if style == "bedtools" else a + 1
        lines += [
            f">{LAMBDA}:{start}-{b}" + (f"({strand})" if style == "bedtools" else "/rc" * (strand == "-")),
            s,
        ]
        seqs.append(s)
    path.write_text("\n".join(lines) + "\n")
    return seqs


def _cfg(**kw: object) -> AttributeConfig:
    return validate_dict(AttributeConfig, {"compute": {"device": "cpu"}, **kw})


def test_outputs_match_api_and_bigwig_coordinates(char_run: Path, lambda_seq: str, tmp_path: Path) -> None:
    import pyBigWig

    fa = tmp_path / "lambda.fa"
    seqs = _lambda_fasta(fa, lambda_seq)
    lo, hi = 3, 33
    cfg = _cfg(
        run_dir=str(char_run),
        input=str(fa),
        methods=["ism", "integrated_gradients"],
        window_start=lo,
        window_end=hi,
        output_dir=str(tmp_path / "out"),
        report_top=2,
    )
    res = run_attribute(cfg)
    out = res.output_dir
    arr = np.load(out / "attributions.npz")
    lengths = arr["lengths"]
    assert lengths.tolist() == [min(len(s), hi) - lo for s in seqs]
    assert arr["ids"].tolist() == [f"{LAMBDA}:{a}-{b}({s})" for a, b, s in _intervals()]
    # the command's arrays = the API's, cut to the window
    pred = load_predictor(char_run, device="cpu")
    for method, settings in (("ism", cfg), ("integrated_gradients", cfg.gradient)):
        api = attribute(pred, seqs, method, settings)
        for n, k in enumerate(lengths):
            assert np.allclose(
                arr[f"{method}.contribution"][n, :k], api.contribution[n, lo : lo + k], atol=1e-6
            )
            assert np.allclose(
                arr[f"{method}.hypothetical"][n, :k], api.hypothetical[n, lo : lo + k], atol=1e-6
            )
            assert np.all(arr[f"{method}.contribution"][n, k:] == 0)
        assert np.allclose(arr[f"{method}.f_x"], api.f_x)
    # ISM: only the window is mutated, and each delta is a real forward of the mutant
    delta = arr["ism.ism_delta"]
    s = seqs[1]
    with torch.no_grad():

        def f(x: str) -> float:
            ids = torch.tensor([pred.encode_many([x])[0][0]])
            return float(pred.scalar(pred.logits(ids, torch.ones_like(ids)))[0])

        ref = f(s)
        for i in (lo, lo + 7, hi - 1):
            for j, b in enumerate("ACGT"):
                want = 0.0 if b == s[i] else f(s[:i] + b + s[i + 1 :]) - ref
                assert abs(delta[1, i - lo, j] - want) < 1e-6
    # Parquet tracks = the arrays; per-sequence sums
    tracks = pd.read_parquet(out / "tracks.parquet")
    assert len(tracks) == lengths.sum()
    per = pd.read_parquet(out / "sequences.parquet")
    for n, sid in enumerate(arr["ids"]):
        rows = tracks[tracks["id"] == sid]
        assert rows["pos"].tolist() == list(range(lo, lo + lengths[n]))
        assert "".join(rows["base"]) == seqs[n][lo : lo + lengths[n]]
        assert np.allclose(rows["ism"], arr["ism.contribution"][n, : lengths[n]])
        assert per.loc[n, "ism_sum"] == pytest.approx(float(rows["ism"].sum()), abs=1e-5)
        a, b, strand = _intervals()[n]
        # reference positions hold the base the sequence has there (complemented on the - strand)
        got = "".join(lambda_seq[p] for p in rows["ref_pos"])
        want = "".join(rows["base"]) if strand == "+" else reverse_complement("".join(rows["base"]))[::-1]
        assert got == want
    # bigWig at reference coordinates: + strand in order, - strand reversed
    for method in ("ism", "integrated_gradients"):
        bw = pyBigWig.open(str(out / f"{method}.bw"))
        try:
            assert LAMBDA in bw.chroms()
            for n, (a, b, strand) in enumerate(_intervals()):
                k = int(lengths[n])
                track = arr[f"{method}.contribution"][n, :k]
                if strand == "+":
                    got = np.array(bw.values(LAMBDA, a + lo, a + lo + k))
                else:  # sequence position i <-> reference position b - 1 - i
                    got = np.array(bw.values(LAMBDA, b - lo - k, b - lo))[::-1]
                assert np.allclose(got, track, atol=1e-6), (method, n)
                assert np.isnan(bw.values(LAMBDA, a - 1, a)[0])  # nothing written outside the intervals
        finally:
            bw.close()
    # TF-MoDISco inputs: (N, 4, W) for the modisco CLI, the (N, W, 4) arrays transposed
    ohe = np.load(out / "modisco" / "ism" / "ohe.npz")["arr_0"]
    shap = np.load(out / "modisco" / "ism" / "shap.npz")["arr_0"]
    assert ohe.shape == (4, 4, lengths.max()) and shap.shape == ohe.shape
    assert np.array_equal(ohe.transpose(0, 2, 1), arr["onehot"])
    assert np.allclose(shap.transpose(0, 2, 1), arr["ism.hypothetical"])
    assert np.all(arr["onehot"][0, : lengths[0]].sum(-1) == 1)
    # report, manifest, summary
    md = (out / "report.md").read_text()
    top = arr["ids"][int(np.argmax(arr["ism.f_x"]))]
    assert top in md and (out / "plots" / "top1.png").stat().st_size > 1000
    assert "max abs convergence delta" in md
    assert "<img" in (out / "report.html").read_text()
    assert json.loads((out / "manifest.json").read_text())["command"] == "attribute"
    assert json.loads((out / "summary.json").read_text())["coordinates"] == "fasta ids"


def test_bed_and_samtools_headers_give_the_same_tracks(
    char_run: Path, lambda_seq: str, tmp_path: Path
) -> None:
    import pyBigWig

    fa = tmp_path / "bedtools.fa"
    _lambda_fasta(fa, lambda_seq)
    sam = tmp_path / "samtools.fa"
    _lambda_fasta(sam, lambda_seq, style="samtools")
    plain = tmp_path / "plain.tsv"
    seqs = [r for i, r in enumerate(fa.read_text().splitlines()) if i % 2]
    plain.write_text("id\tsequence\n" + "".join(f"s{n}\t{s}\n" for n, s in enumerate(seqs)))
    bed = tmp_path / "seqs.bed"
    bed.write_text(
        "".join(f"{LAMBDA}\t{a}\t{b}\ts{n}\t0\t{st}\n" for n, (a, b, st) in enumerate(_intervals()))
    )
    outs = {}
    for name, extra in (
        ("bedtools", {"input": str(fa)}),
        ("samtools", {"input": str(sam), "coordinates": {"header_coordinates": "samtools"}}),
        ("bed", {"input": str(plain), "coordinates": {"bed_file": str(bed)}}),
    ):
        outs[name] = tmp_path / name
        run_attribute(_cfg(run_dir=str(char_run), output_dir=str(outs[name]), report_top=0, **extra))
    ref = pd.read_parquet(outs["bedtools"] / "tracks.parquet")
    for name in ("samtools", "bed"):
        other = pd.read_parquet(outs[name] / "tracks.parquet")
        assert other["ref_pos"].tolist() == ref["ref_pos"].tolist()
        assert np.allclose(other["ism"], ref["ism"], atol=1e-6)
        a = pyBigWig.open(str(outs[name] / "ism.bw"))
        b = pyBigWig.open(str(outs["bedtools"] / "ism.bw"))
        try:
            assert np.allclose(a.values(LAMBDA, 990, 30036), b.values(LAMBDA, 990, 30036), equal_nan=True)
        finally:
            a.close()
            b.close()
    # no coordinates -> no bigWig
    run_attribute(_cfg(run_dir=str(char_run), input=str(plain), output_dir=str(tmp_path / "nocoord")))
    assert not (tmp_path / "nocoord" / "ism.bw").exists()


def test_regression_run_from_task_split_via_cli(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    task = tmp_path / "task"
    task.mkdir()
    for split, n in (("train", 48), ("dev", 8), ("test", 8)):
        seqs = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(n)]
        rows = [f"{s},{(s.count('G') + s.count('C')) / len(s):.3f}" for s in seqs]
        (task / f"{split}.csv").write_text("sequence,label\n" + "\n".join(rows) + "\n")
    run = _train(tmp_path, task, "nucleotide_transformer", "regression")  # 6-mer tokens: re-tokenized ISM
    yaml = tmp_path / "attr.yaml"
    yaml.write_text(
        f"run_dir: {run}\ninput: {task}\nsplit: dev\nmethods: [ism, input_x_gradient]\n"
        f"compute: {{device: cpu}}\noutput_dir: {tmp_path / 'out'}\nreport_top: 1\n"
    )
    assert main(["attribute", str(yaml)]) == 0
    arr = np.load(tmp_path / "out" / "attributions.npz")
    assert arr["ism.contribution"].shape == (8, 30)
    assert "labels" not in arr  # real-valued labels are not classes for `motifs`
    pred = load_predictor(run, device="cpu")
    seqs = pd.read_csv(task / "dev.csv")["sequence"].tolist()
    assert arr["ism.f_x"][0] == pytest.approx(attribute(pred, seqs[:1], "ism").f_x[0], abs=1e-9)
    api = attribute(pred, seqs, "input_x_gradient")
    assert np.allclose(arr["input_x_gradient.contribution"], api.contribution, atol=1e-6)
    labels = pd.read_parquet(tmp_path / "out" / "sequences.parquet")["label"].astype(float)
    assert np.allclose(labels, pd.read_csv(task / "dev.csv")["label"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (
        summary["task_type"] == "regression"
        and "re-tokenized" in summary["methods"]["ism"]["notes"]["mutant_tokens"]
    )


def test_bad_inputs_are_clear_errors(char_run: Path, lambda_seq: str, tmp_path: Path) -> None:
    fa = tmp_path / "ok.fa"
    seqs = _lambda_fasta(fa, lambda_seq)

    def run(match: str, **kw: object) -> None:
        base: dict[str, object] = {
            "run_dir": str(char_run),
            "input": str(fa),
            "output_dir": str(tmp_path / "o"),
        }
        with pytest.raises(UserError, match=match):
            run_attribute(_cfg(**{**base, **kw}))
        assert not (tmp_path / "o").exists()  # nothing half-made

    run("not a genomefactory training run", run_dir=str(tmp_path))
    run("does not exist", input=str(tmp_path / "missing.fa"))
    run(r"without train\.csv.*splits there: ", input=str(tmp_path), split="train")
    sam = tmp_path / "sam.fa"
    _lambda_fasta(sam, lambda_seq, style="samtools")
    run(r"record 1 .*spans 35 bases.*sequence has 36.*header_coordinates: samtools", input=str(sam))
    mixed = tmp_path / "mixed.fa"
    mixed.write_text(fa.read_text() + ">plain_name\nACGTACGT\n")
    run(r"record 5 \('plain_name'\): not chrom:start-end.*header_coordinates: none", input=str(mixed))
    bed = tmp_path / "short.bed"
    bed.write_text(f"{LAMBDA}\t1000\t1036\n")
    run("1 rows for 4 sequences", coordinates={"bed_file": str(bed)})
    bed.write_text("".join(f"{LAMBDA}\t{a}\t{b}\twrong\n" for a, b, _ in _intervals()))
    run(r"line 1: name 'wrong' is not the id of sequence 1", coordinates={"bed_file": str(bed)})
    bed.write_text(f"{LAMBDA}\t1000\t1030\n")
    run(r"line 1: interval .* spans 30 bases but sequence .* has 36", coordinates={"bed_file": str(bed)})
    run(r"is 30 bases long, not longer than window_start 33", window_start=33)
    run(r"target 5 is not a class", target=5)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(UserError, match="not empty"):
        run_attribute(_cfg(run_dir=str(char_run), input=str(fa), output_dir=str(tmp_path / "busy")))
    with pytest.raises(ConfigError, match="window_end"):
        _cfg(run_dir="r", input=str(fa), window_start=5, window_end=5)
    assert len(seqs) == 4


def test_class_labels_for_motifs() -> None:
    from genomefactory.interpret.attribute.outputs import _class_labels

    assert _class_labels(["0", "1", "1.0"]).tolist() == [0, 1, 1]  # type: ignore[union-attr]
    assert _class_labels(["0", None]) is None and _class_labels(["0.25", "1"]) is None
    assert _class_labels(["promoter"]) is None and _class_labels([]) is None
