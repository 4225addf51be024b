"""Config of the ``plan`` command: a train config (inline or a file) and the hardware to size it for.

Imports no torch. Lengths are in tokens (what the model sees: bases for per-base tokenizers, k-mers for NT
v1/v2, BPE pieces for DNABERT-2/GenomeOcean), batch sizes per GPU.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..config import InPath, OutPath, StrictConfig
from ..train.config import TrainConfig

__all__ = ["STRATEGIES", "PlanConfig", "Strategy"]

Strategy = Literal["ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3", "qlora"]
STRATEGIES: tuple[Strategy, ...] = ("ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3", "qlora")


class PlanConfig(StrictConfig):
    """``genomefactory-cli plan``: per-GPU memory of a training run for several strategies, GPU counts, batch
    sizes and lengths, built on the meta device (no weights are downloaded or allocated)."""

    train: TrainConfig | None = Field(
        None, description="The train config to plan for, inline (the same keys as `train`); or train_file."
    )
    train_file: InPath | None = Field(None, description="Path of a train config YAML file to plan for.")
    gpu_memory_gb: float = Field(80.0, gt=0, description="Memory of one GPU in GiB (H100: 80, A100: 40/80).")
    reserve_gb: float = Field(
        2.0,
        ge=0,
        description="GiB per GPU kept out of the estimate: CUDA context, allocator fragmentation, NCCL buffers.",
    )
    n_gpus: list[int] = Field(
        [1, 8], min_length=1, description="GPU counts to plan for (data-parallel ranks)."
    )
    batch_sizes: list[int] | None = Field(
        None, description="Per-GPU batch sizes; default: the train config's training.batch_size."
    )
    lengths: list[int] | None = Field(
        None, description="Sequence lengths in tokens; default: data.max_length, else the model's maximum."
    )
    strategies: list[Strategy] = Field(
        list(STRATEGIES),
        min_length=1,
        description="ddp (replicated), fsdp (FSDP2 full shard), deepspeed_zero2/zero3, qlora (4/8-bit frozen "
        "backbone + LoRA, settings from method.qlora; replicated per GPU).",
    )
    output: OutPath | None = Field(None, description="JSON file to write the plan to (default: print only).")

    @model_validator(mode="after")
    def _one_train_config(self) -> PlanConfig:
        if (self.train is None) == (self.train_file is None):
            raise ValueError("give exactly one of train (an inline train config) or train_file (its path)")
        if any(n < 1 for n in self.n_gpus) or any(b < 1 for b in self.batch_sizes or []):
            raise ValueError("n_gpus and batch_sizes must be positive")
        if any(n < 1 for n in self.lengths or []):
            raise ValueError("lengths must be positive")
        return self
