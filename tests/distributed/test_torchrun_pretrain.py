"""``pretrain`` under ``torchrun --nproc_per_node 2`` (gloo, CPU) gives the single-process run.

2 ranks x batch 4 see the windows one process x batch 8 sees at each step (the dataset is index-seeded and
accelerate shards each global batch of the seeded sampler); every window of a 1-bp model has the same number of
next-token targets, so the mean of the ranks' losses is the global mean and the validation perplexity matches up to
the rounding of the all-reduced gradients. Rank 0 alone writes the run folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genomefactory.config import validate_dict
from genomefactory.pretrain.config import PretrainConfig
from genomefactory.pretrain.run import run_pretrain

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


def _cfg(genome: Path, out: Path, batch: int) -> dict[str, object]:
    return {
        "model": {"family": "hyenadna", "init": "tiny"},
        "data": {"paths": [str(genome)], "window": 64, "val_windows": 8},
        "training": {"max_steps": 4, "batch_size": batch, "learning_rate": 3e-3, "eval_steps": 2, "seed": 5},
        "output_dir": str(out),
    }


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not installed")
def test_two_gloo_ranks_match_one_process(tmp_path: Path, shared_data: Path) -> None:
    genome = tmp_path / "hiv1.fa"
    shutil.copyfile(shared_data / "genomes" / "NC_001802.fna", genome)
    genome_fai = Path(f"{genome}.fai")
    run_pretrain(validate_dict(PretrainConfig, _cfg(genome, tmp_path / "single", 8)))  # also builds the .fai
    assert genome_fai.is_file()
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(yaml.safe_dump(_cfg(genome, tmp_path / "ddp", 4)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [
            str(TORCHRUN),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "genomefactory.cli",
            "pretrain",
            str(cfg),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    one = json.loads((tmp_path / "single" / "metrics.json").read_text())
    two = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert two["steps"] == one["steps"] == 4
    for a, b in zip(one["val_curve"], two["val_curve"], strict=True):
        assert a["step"] == b["step"] and b["val_perplexity"] == pytest.approx(a["val_perplexity"], rel=1e-4)
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "manifest.json",
        "metrics.json",
        "model",
        "trainer_log.jsonl",
    ]
