"""Typed results of the training stages (``train/stages.py``, ``train/finetune.py``, ``train/run_dir.py``).

``FitResult.test_logits`` has shape (test rows, num_labels), num_labels = 1 for regression, rows in the order of
``test.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FitResult", "TrainResult"]


@dataclass
class FitResult:
    """What the optimisation stage produced (the best checkpoint is loaded into the task model)."""

    dev_metrics: dict[str, float]
    test_metrics: dict[str, float]
    test_logits: np.ndarray
    train_seconds: float
    best_checkpoint: str | None
    global_step: int
    feature_cache_hits: int = 0
    # samples/s from the Trainer, tokens/s = samples/s x mean real tokens per training sequence
    train_samples_per_s: float | None = None
    train_tokens_per_s: float | None = None
    is_main_process: bool = True  # under DDP every rank holds the gathered results; the main one writes them
    # per-base tasks: test_logits is (rows, bases, classes) and this (rows, bases) marks the bases with an output
    test_base_mask: np.ndarray | None = None
    local_parameters: int | None = None  # sharded training: parameters this rank stored (its shards)


@dataclass
class TrainResult:
    """What a training run produced."""

    output_dir: Path
    dev_metrics: dict[str, float]
    test_metrics: dict[str, float]
    trainable_params: int
    total_params: int
    train_seconds: float
    truncated_rows: int
    feature_cache_hits: int = 0
    files: dict[str, Path] = field(default_factory=dict)
    # training throughput: samples/s from the Trainer, tokens/s = samples/s x mean real tokens per training sequence
    # (special tokens included, padding never), the unit of the paper's Table 2
    train_samples_per_s: float | None = None
    train_tokens_per_s: float | None = None
    local_parameters: int | None = None  # sharded training: parameters this rank stored (its shards)

    def summary(self) -> str:
        lines = [
            f"run directory: {self.output_dir}",
            f"trainable parameters: {self.trainable_params:,} of {self.total_params:,}",
            f"train time: {self.train_seconds:.1f} s",
            "dev:  " + ", ".join(f"{k}={v:.4f}" for k, v in self.dev_metrics.items()),
            "test: " + ", ".join(f"{k}={v:.4f}" for k, v in self.test_metrics.items()),
        ]
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return "\n".join(lines)
