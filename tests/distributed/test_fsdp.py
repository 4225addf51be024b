"""Sharded training on CPU: ``torchrun --nproc_per_node 2`` (gloo) with ``training.distributed: fsdp`` (FSDP2).

Against one process on the same samples (2 ranks x batch 8 = 1 x batch 16, dropout off): the logged training
losses agree to 1e-4 step by step and the final metrics agree; each rank stores half of the parameters (its
shards, counted from the DTensors at rest); the checkpoints and ``model/`` hold full, un-sharded tensors in the
single-process layout, and ``model/`` loads on one process and predicts what the run wrote. A run interrupted
after its first epoch resumes from the FSDP checkpoint to the same result. Evo trains fully and with LoRA; under
bf16 mixed precision (with activation checkpointing) its MLP weights are gathered in bf16 while its poles and
residues stay float32.
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
import torch
from safetensors.torch import load_file

from genomefactory.config import load_config
from genomefactory.infer.predict import predict_logits
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.train.model_io import load_run_model

WORKER = Path(__file__).with_name("fsdp_worker.py")
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
NT = {
    "family": "nucleotide_transformer",
    "init": "tiny",
    "tiny_overrides": {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
}
EVO = {"family": "evo", "init": "tiny"}


def _cfg(
    data: Path, out: Path, model: dict[str, Any], method: str, batch: int, epochs: int, **training: Any
) -> dict[str, Any]:
    return {
        "data": {"path": str(data)},
        "output_dir": str(out),
        "model": model,
        "method": {"name": method, "head_dropout": 0.0, "lora": {"dropout": 0.0}},
        "training": {
            "epochs": epochs,
            "batch_size": batch,
            "eval_batch_size": 8,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "seed": 7,
            "group_by_length": False,
            **training,
        },
    }


def _losses(run_dir: Path) -> list[float]:
    lines = [json.loads(x) for x in (run_dir / "trainer_log.jsonl").read_text().splitlines()]
    return [x["loss"] for x in lines if "loss" in x]


@pytest.fixture
def task(shared_data: Path, tmp_path: Path) -> Path:
    src, dst = shared_data / "gue/prom/prom_core_tata", tmp_path / "tata"
    dst.mkdir()
    for split, n in {"train": 64, "dev": 32, "test": 32}.items():
        pd.read_csv(src / f"{split}.csv").head(n).to_csv(dst / f"{split}.csv", index=False)
    return dst


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not installed")
def test_fsdp_two_ranks_match_one_process(task: Path, tmp_path: Path) -> None:
    sh, one = tmp_path / "fsdp", tmp_path / "single"
    sh.mkdir()
    fsdp = {"distributed": "fsdp"}
    runs = [
        {"config": _cfg(task, sh / "nt", NT, "full", 8, 2, **fsdp)},
        {  # interrupted after epoch 1 (step 4 of 8): resumes from the FSDP checkpoint
            "config": _cfg(task, sh / "nt_resumed", NT, "full", 8, 2, resume=True, **fsdp),
            "prepare": {
                "copy": str(sh / "nt"),
                "drop": ["checkpoint-8", "metrics.json", "predictions_test.csv", "model", "manifest.json"],
            },
        },
        {"config": _cfg(task, sh / "evo_lora", EVO, "lora", 8, 1, **fsdp)},
        {  # + activation checkpointing: the wrap policy then names the checkpointed block subclasses
            "config": _cfg(
                task,
                sh / "evo_bf16",
                EVO,
                "full",
                8,
                1,
                precision="bf16",
                gradient_checkpointing=True,
                **fsdp,
            )
        },
    ]
    (sh / "spec.json").write_text(json.dumps({"runs": runs, "out": str(sh)}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(WORKER), str(sh / "spec.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((sh / f"rank{r}.json").read_text()) for r in (0, 1)]

    ref = {
        name: run_train(load_config(TrainConfig, None, _cfg(task, one / name, model, method, 16, epochs)))
        for name, model, method, epochs in (("nt", NT, "full", 2), ("evo_lora", EVO, "lora", 1))
    }
    for i, name in ((0, "nt"), (1, "nt"), (2, "evo_lora")):
        want_losses = _losses(one / name)
        got_losses = _losses(sh / runs[i]["config"]["output_dir"].rsplit("/", 1)[1])
        assert len(got_losses) == len(want_losses) == (8 if name == "nt" else 4)
        np.testing.assert_allclose(got_losses, want_losses, atol=1e-4)
        for rank in ranks:
            for split, want in (("dev", ref[name].dev_metrics), ("test", ref[name].test_metrics)):
                got = rank[i][split]
                assert got["loss"] == pytest.approx(want["loss"], abs=1e-4)
                assert got["mcc"] == pytest.approx(want["mcc"], abs=1e-6)
                assert got["accuracy"] == pytest.approx(want["accuracy"], abs=1e-6)

    # each rank stores half of every sharded parameter; together exactly the model
    for i in range(len(runs)):
        held = [r[i]["held"] for r in ranks]
        total = ranks[0][i]["total"]
        assert sum(held) == total
        assert all(0.45 * total < h < 0.55 * total for h in held), (held, total)
        assert ranks[0][i]["files"] and ranks[1][i]["files"] == []  # written by rank 0 only

    # checkpoints and model/ hold full tensors, in the single-process layout
    ckpt = load_file(str(sh / "nt" / "checkpoint-8" / "model.safetensors"))
    want_state = load_file(str(one / "nt" / "checkpoint-8" / "model.safetensors"))
    assert {k: v.shape for k, v in ckpt.items()} == {k: v.shape for k, v in want_state.items()}
    for name in ("nt", "evo_lora", "evo_bf16"):
        got_model = load_file(str(sh / name / "model" / "model.safetensors"))
        if name != "evo_bf16":
            want_model = load_file(str(one / name / "model" / "model.safetensors"))
            assert {k: v.shape for k, v in got_model.items()} == {k: v.shape for k, v in want_model.items()}
        # the saved model loads on one process and predicts what the sharded run wrote
        run = load_run_model(sh / name)
        test = pd.read_csv(task / "test.csv")
        logits, _ = predict_logits(run, test["sequence"].tolist(), 8, torch.device("cpu"))
        probs = torch.softmax(torch.from_numpy(logits), -1)[:, 1].numpy()
        written = pd.read_csv(sh / name / "predictions_test.csv")
        if name == "evo_bf16":  # the run predicted in bf16: compare the weights instead, bit for bit
            best = load_file(
                str(sh / name / "checkpoint-4" / "model.safetensors")
            )  # one epoch, one checkpoint
            assert got_model.keys() == best.keys()
            assert all(torch.equal(got_model[k], best[k]) for k in best)
            np.testing.assert_allclose(probs, written["prob_1"], atol=1e-2)
            continue
        np.testing.assert_allclose(probs, written["prob_1"], atol=1e-5)
        single = pd.read_csv(one / name / "predictions_test.csv")
        np.testing.assert_allclose(written["prob_1"], single["prob_1"], atol=1e-4)

    # the resumed run ends where the uninterrupted one did
    for split in ("dev", "test"):
        for k, v in ranks[0][0][split].items():
            assert ranks[0][1][split][k] == pytest.approx(v, abs=1e-6), (split, k)
    assert _losses(sh / "nt_resumed") == pytest.approx(_losses(sh / "nt"), abs=1e-6)

    # bf16 mixed precision: MLPs gathered in bf16, poles/residues in their own float32 units
    for rank in ranks:
        assert rank[3]["dtypes"] == {"poles": ["torch.float32"], "mlp": ["torch.bfloat16"]}
        assert np.isfinite(rank[3]["test"]["loss"])
        assert rank[2]["dtypes"]["poles"] == ["torch.float32"]  # fp32 run
