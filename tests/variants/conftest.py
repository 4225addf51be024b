"""Fixtures of the variant-scoring tests: a real genome (phage lambda) copied to a writable folder, a run."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from genomefactory.config import validate_dict
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.variants.demo import plant_task
from genomefactory.variants.reference import Reference

LAMBDA = "NC_001416.1"


@pytest.fixture(scope="session")
def lambda_fa(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Phage lambda as a plain FASTA in a temp folder (its .fai is built there, never in shared data)."""
    out = tmp_path_factory.mktemp("genome") / "lambda.fa"
    out.write_bytes(gzip.decompress((shared_data / "genomes" / "lambda_NC_001416.1.fasta.gz").read_bytes()))
    return out


@pytest.fixture(scope="session")
def lambda_ref(lambda_fa: Path) -> Reference:
    return Reference(lambda_fa)


@pytest.fixture(scope="session")
def lambda_seq(lambda_ref: Reference) -> str:
    return lambda_ref.fetch(LAMBDA, 0, lambda_ref.length(LAMBDA))


@pytest.fixture(scope="session")
def motif_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny hf_auto CNN-adapter classifier trained (CPU, ~20 s) on planted-motif sequences of 80 bp."""
    root = tmp_path_factory.mktemp("motif")
    data = plant_task(root / "task", n=800, length=80, seed=0)
    cfg = validate_dict(
        TrainConfig,
        {
            "model": {"family": "hf_auto", "init": "tiny"},
            "data": {"path": str(data)},
            "method": {
                "name": "adapter",
                "adapter": {
                    "kind": "cnn",
                    "cnn_channels": 32,
                    "cnn_kernel_size": 9,
                    "dropout": 0.0,
                    "cache_dir": str(root / "cache"),
                },
            },
            "training": {
                "epochs": 16,
                "batch_size": 32,
                "learning_rate": 5e-3,
                "lr_scheduler": "constant",
                "warmup_ratio": 0.0,
                "eval_steps": 125,
                "logging_steps": 50,
                "seed": 0,
            },
            "output_dir": str(root / "run"),
        },
    )
    run_train(cfg)
    return root / "run"
