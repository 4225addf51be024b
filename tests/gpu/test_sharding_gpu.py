"""Sharded training on CUDA (skipped without a GPU; run by ``benchmarks/gpu_session.sh``).

``torchrun --nproc_per_node 1`` (nccl) with ``training.distributed: fsdp`` and bf16 trains a tiny Evo fully with its
poles in float32 units, and the saved model loads on one device; DeepSpeed ZeRO-2 trains a tiny NT when the
``deepspeed`` package is installed (skipped with the reason otherwise).
"""

from __future__ import annotations

import importlib.util
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

from genomefactory.train.model_io import load_run_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
WORKER = Path(__file__).parents[1] / "distributed" / "fsdp_worker.py"
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


def _task(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for split, n in (("train", 32), ("dev", 16), ("test", 16)):
        seqs = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(n)]
        pd.DataFrame({"sequence": seqs, "label": [i % 2 for i in range(n)]}).to_csv(folder / f"{split}.csv")
    return folder


def _launch(tmp_path: Path, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (tmp_path / "spec.json").write_text(json.dumps({"runs": runs, "out": str(tmp_path)}))
    proc = subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc_per_node", "1", str(WORKER), str(tmp_path / "spec.json")],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return list(json.loads((tmp_path / "rank0.json").read_text()))


def _cfg(task: Path, out: Path, family: str, **training: Any) -> dict[str, Any]:
    return {
        "data": {"path": str(task)},
        "output_dir": str(out),
        "model": {"family": family, "init": "tiny"},
        "method": {"name": "full"},
        "training": {"epochs": 1, "batch_size": 8, "precision": "bf16", "logging_steps": 1, **training},
    }


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not installed")
def test_fsdp_bf16_evo_on_cuda(tmp_path: Path) -> None:
    task = _task(tmp_path / "task")
    (rep,) = _launch(tmp_path, [{"config": _cfg(task, tmp_path / "evo", "evo", distributed="fsdp")}])
    assert rep["dtypes"] == {"poles": ["torch.float32"], "mlp": ["torch.bfloat16"]}
    assert rep["held"] == rep["total"] and np.isfinite(rep["test"]["loss"])  # one rank holds everything
    run = load_run_model(tmp_path / "evo", device="cuda")
    assert all(p.device.type == "cuda" and not hasattr(p, "to_local") for p in run.model.parameters())


@pytest.mark.skipif(
    importlib.util.find_spec("deepspeed") is None, reason="deepspeed not installed (extra deepspeed)"
)
@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not installed")
def test_deepspeed_zero2_trains_on_cuda(tmp_path: Path) -> None:
    task = _task(tmp_path / "task")
    cfg = _cfg(
        task, tmp_path / "nt", "nucleotide_transformer", distributed="deepspeed", deepspeed={"zero_stage": 2}
    )
    (rep,) = _launch(tmp_path, [{"config": cfg}])
    assert np.isfinite(rep["test"]["loss"])
    load_run_model(tmp_path / "nt")
