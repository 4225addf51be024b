"""Per-base prediction: builder (FASTA + bigWig) -> per-base regression training -> ``inference`` predict with a
bigWig out; the tracks equal the trainer's test predictions, and the bigWig holds them in reference orientation
(minus-strand windows reversed, the two strands of a window averaged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genomefactory.collect.per_base_config import PerBaseDataConfig
from genomefactory.collect.tasks.per_base import run_per_base_data
from genomefactory.config import ConfigError, load_config, validate_dict
from genomefactory.infer.config import InferenceConfig
from genomefactory.infer.run import run_inference
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train


def _floats(text: str) -> np.ndarray:
    return np.array([np.nan if x == "." else float(x) for x in text.split(",")])


def test_predict_tracks_and_bigwig(tmp_path: Path) -> None:
    import pyBigWig

    rng = np.random.default_rng(2)
    seq = "".join(rng.choice(list("ACGT"), 1200))
    (tmp_path / "g.fa").write_text(f">chr1\n{seq}\n")
    signal = np.array([1.0 if b in "GC" else 0.0 for b in seq]) + rng.normal(0, 0.1, len(seq))
    bw = pyBigWig.open(str(tmp_path / "s.bw"), "w")
    bw.addHeader([("chr1", len(seq))])
    bw.addEntries("chr1", 0, values=signal.tolist(), span=1, step=1)
    bw.close()
    task = tmp_path / "task"
    run_per_base_data(
        validate_dict(
            PerBaseDataConfig,
            {
                "genome": str(tmp_path / "g.fa"),
                "signal": str(tmp_path / "s.bw"),
                "output_dir": str(task),
                "window": 40,
                "strands": "both",
                "group_windows": 2,
            },
        )
    )
    run = tmp_path / "run"
    cfg = load_config(
        TrainConfig,
        None,
        {
            "data": {"path": str(task)},
            "output_dir": str(run),
            "task": {"type": "per_base_regression"},
            "model": {"family": "hyenadna", "init": "tiny"},
            "method": {"name": "full"},
            "training": {"max_steps": 3, "batch_size": 8, "learning_rate": 3e-3, "seed": 1},
        },
    )
    run_train(cfg)
    out, bw_out = tmp_path / "pred.csv", tmp_path / "pred.bw"
    icfg = validate_dict(
        InferenceConfig,
        {
            "mode": "predict",
            "model": {"path": str(run)},
            "predict": {"input": str(task / "test.tsv"), "output": str(out), "bigwig_path": str(bw_out)},
        },
    )
    run_inference(icfg)
    pred = pd.read_csv(out)
    trained = pd.read_csv(run / "predictions_test.csv")
    test = pd.read_csv(task / "test.tsv", sep="\t")
    assert list(pred["id"]) == list(test["id"]) and len(trained) == len(test)
    for a, b in zip(pred["prediction"], trained["prediction"], strict=True):
        np.testing.assert_allclose(_floats(a), _floats(b), rtol=1e-4, atol=1e-5)
    # the bigWig: per reference base, the mean over the windows (both strands) that cover it
    total, count = np.zeros(len(seq)), np.zeros(len(seq))
    for row, text in zip(test.itertuples(), pred["prediction"], strict=True):
        values = _floats(text)
        values = values[::-1] if row.strand == "-" else values
        total[row.start : row.end] += values
        count[row.start : row.end] += 1
    covered = np.flatnonzero(count)
    reader = pyBigWig.open(str(bw_out))
    size = reader.chroms("chr1")  # no genome given: the last window end
    assert size == int(test["end"].max())
    got = np.full(len(seq), np.nan)
    got[:size] = reader.values("chr1", 0, size)
    reader.close()
    np.testing.assert_allclose(got[covered], total[covered] / count[covered], rtol=1e-5, atol=1e-6)
    assert np.isnan(np.delete(got, covered)).all()
    # one value per sequence: bigwig_path is refused with a message
    seq_run = icfg.model_copy(deep=True)
    seq_run.predict.output = str(tmp_path / "p2.csv")
    seq_run.predict.bigwig_path = str(tmp_path / "p2.bw")
    seq_run.predict.input = str(tmp_path / "plain.csv")
    pd.DataFrame({"sequence": [seq[:40]]}).to_csv(tmp_path / "plain.csv", index=False)
    with pytest.raises(ConfigError, match="chrom and start"):
        run_inference(seq_run)
