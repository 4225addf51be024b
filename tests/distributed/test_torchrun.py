"""Data parallel on CPU: ``torchrun --nproc_per_node 2`` (gloo) gives the single-process results.

Training: 2 ranks x batch 8 see the same samples per optimizer step as one process x batch 16 (accelerate shards
each global batch of the seeded sampler), so with dropout off the metrics agree up to float rounding of the
all-reduced gradients. Embedding: the merged output has every row once, in input order, equal to one process's.
Benchmark sweep: each cell trains data parallel, rank 0 alone writes markers and reports, and the score equals a
single-process sweep's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from genomefactory.benchmark.config import BenchmarkConfig
from genomefactory.benchmark.run import run_benchmark
from genomefactory.config import load_config, validate_dict
from genomefactory.infer.config import InferenceConfig
from genomefactory.infer.embed import run_embed
from genomefactory.infer.store import read_embeddings
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train

WORKER = Path(__file__).with_name("worker.py")
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def _train(data: Path, out: Path, method: str, batch: int, cache: Path) -> dict[str, Any]:
    return {
        "data": {"path": str(data)},
        "output_dir": str(out),
        "model": {"family": "nucleotide_transformer", "init": "tiny", "tiny_overrides": NO_DROPOUT},
        "method": {"name": method, "head_dropout": 0.0, "adapter": {"cache_dir": str(cache), "dropout": 0.0}},
        "training": {
            "epochs": 2,
            "batch_size": batch,
            "eval_batch_size": 8,
            "learning_rate": 1e-3,
            "logging_steps": 2,
            "seed": 7,
            "group_by_length": False,
        },
    }


def _embed(inp: Path, out: Path) -> dict[str, Any]:
    return {
        "mode": "embed",
        "model": {"family": "nucleotide_transformer", "init": "tiny"},
        "embed": {
            "input": str(inp),
            "output": str(out),
            "batch_size": 4,
            "chunk_size": 16,
            "progress": False,
        },
    }


def _sweep(gue: Path, out: Path, batch: int) -> dict[str, Any]:
    return {
        "suites": [
            {"name": "gue", "path": str(gue), "tasks": ["prom/prom_core_tata"], "max_rows_per_split": 32}
        ],
        "models": [{"family": "nucleotide_transformer", "init": "tiny", "tiny_overrides": NO_DROPOUT}],
        "methods": ["full"],
        "seeds": [5],
        "method": {"head_dropout": 0.0},
        "training": {
            "epochs": 2,
            "batch_size": batch,
            "eval_batch_size": 8,
            "learning_rate": 1e-3,
            "logging_steps": 2,
            "group_by_length": False,
        },
        "output_dir": str(out),
    }


@pytest.fixture
def task(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    src, dst = shared_data / "gue/prom/prom_core_tata", tmp_path / "tata"
    dst.mkdir()
    for split, n in {"train": 64, "dev": 32, "test": 32}.items():
        pd.read_csv(src / f"{split}.csv").head(n).to_csv(dst / f"{split}.csv", index=False)
    # 37 rows over chunks of 16: uneven slices per rank and a last chunk smaller than the world size x batch
    df = pd.read_csv(src / "test.csv").iloc[100:137].reset_index(drop=True)
    df.insert(0, "id", [f"seq{i:03d}" for i in range(len(df))])
    df.to_csv(tmp_path / "embed_in.csv", index=False)
    return dst, tmp_path / "embed_in.csv"


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not installed")
def test_torchrun_two_ranks_match_single_process(
    task: tuple[Path, Path], tmp_path: Path, shared_data: Path
) -> None:
    data, emb_in = task
    ddp = tmp_path / "ddp"
    ddp.mkdir()
    spec = {
        "train": [
            _train(data, ddp / "full", "full", 8, ddp / "cache"),
            _train(data, ddp / "adapter", "adapter", 8, ddp / "cache"),
        ],
        "embed": _embed(emb_in, ddp / "emb.parquet"),
        "benchmark": _sweep(shared_data / "gue", ddp / "sweep", 8),
        "out": str(ddp),
    }
    (ddp / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(WORKER), str(ddp / "spec.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((ddp / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]

    single = tmp_path / "single"
    ref = [
        run_train(load_config(TrainConfig, None, _train(data, single / m, m, 16, single / "cache")))
        for m in ("full", "adapter")
    ]
    for i, res in enumerate(ref):
        for rank in ranks:  # every rank reports the gathered metrics, equal to one process's
            for split, want in (("dev", res.dev_metrics), ("test", res.test_metrics)):
                got = rank["train"][i][split]
                assert got["loss"] == pytest.approx(want["loss"], abs=1e-4)
                assert got["mcc"] == pytest.approx(want["mcc"], abs=1e-6)
                assert got["accuracy"] == pytest.approx(want["accuracy"], abs=1e-6)
    # outputs written once, by rank 0; adapter features computed once (rank 1 read rank 0's cache)
    assert [r["train"][0]["files"] for r in ranks] == [
        ["log", "manifest", "metrics", "model", "predictions"],
        [],
    ]
    assert [r["train"][1]["cache_hits"] for r in ranks] == [0, 3]
    assert len(list((ddp / "cache").glob("*.safetensors"))) == 3
    for m in ("full", "adapter"):
        got = pd.read_csv(ddp / m / "predictions_test.csv")
        want = pd.read_csv(single / m / "predictions_test.csv")
        assert got["row"].tolist() == list(range(32))
        np.testing.assert_array_equal(got["label"], want["label"])
        np.testing.assert_allclose(got["prob_1"], want["prob_1"], atol=1e-4)
        lines = (ddp / m / "trainer_log.jsonl").read_text().splitlines()
        assert len(lines) == len((single / m / "trainer_log.jsonl").read_text().splitlines())

    assert [r["embed"] for r in ranks] == [{"rows": 37, "embedded": 37}] * 2
    assert not (ddp / "emb.parquet.parts").exists()
    one = run_embed(load_config(InferenceConfig, None, _embed(emb_in, single / "emb.parquet")))
    assert one.rows == 37
    a, b = read_embeddings(ddp / "emb.parquet"), read_embeddings(single / "emb.parquet")
    assert a.frame["id"].tolist() == [f"seq{i:03d}" for i in range(37)] == b.frame["id"].tolist()
    assert a.frame["sequence"].tolist() == pd.read_csv(emb_in)["sequence"].tolist()
    np.testing.assert_array_equal(a.vectors, b.vectors)

    sweep = run_benchmark(validate_dict(BenchmarkConfig, _sweep(shared_data / "gue", single / "sweep", 16)))
    assert sweep.count("ok") == 1
    want_score = sweep.cells[0].score
    assert want_score is not None
    for r in ranks:
        ((status, score),) = r["benchmark"]["cells"]
        assert status == "ok" and score == pytest.approx(want_score, abs=1e-4)
    assert ranks[0]["benchmark"]["files"] and not ranks[1]["benchmark"]["files"]  # reports by rank 0 only
    assert len(list((ddp / "sweep" / "cells").rglob("cell.json"))) == 1
    assert json.loads(next((ddp / "sweep" / "cells").rglob("cell.json")).read_text())[
        "score"
    ] == pytest.approx(want_score, abs=1e-4)
