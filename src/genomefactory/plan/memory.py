"""Per-GPU memory of one training configuration: plain arithmetic on counts (the formulas of
``docs/memory_planner.md``). Imports no torch.

``P`` parameters, ``T`` trainable, ``N`` GPUs, ``c`` bytes of the compute dtype (4 fp32, 2 bf16/fp16), AdamW.
The Trainer keeps float32 parameters (autocast computes in ``c``); DeepSpeed keeps a ``c`` copy of the model and
float32 master weights in the optimizer partition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Counts", "Estimate", "estimate", "quantized_bytes_per_weight"]

GIB = 1024**3


@dataclass(frozen=True)
class Counts:
    """What the meta model says about one tuning setup."""

    params: int  # every parameter of backbone + head, counted once
    trainable: int
    largest_block: int  # parameters of the largest repeated block (the FSDP / ZeRO-3 gathered unit)
    quantized: int = 0  # weights stored in 4/8 bits (qlora only)
    bits: int = 16  # bits per quantised weight
    double_quant: bool = True


@dataclass(frozen=True)
class Estimate:
    strategy: str
    n_gpus: int
    batch_size: int
    length: int
    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations

    def fits(self, gpu_memory_gb: float, reserve_gb: float) -> bool:
        return self.total + reserve_gb * GIB <= gpu_memory_gb * GIB

    def as_dict(self, gpu_memory_gb: float, reserve_gb: float) -> dict[str, Any]:
        row = asdict(self)
        row["total"] = self.total
        row["fits"] = self.fits(gpu_memory_gb, reserve_gb)
        return row


def quantized_bytes_per_weight(bits: int, double_quant: bool) -> float:
    """Storage of one bitsandbytes weight with its scales: 4-bit blocks of 64 with a float32 absmax (or an 8-bit
    absmax + a float32 scale per 256 blocks with double quantisation); LLM.int8: a float32 scale per row,
    negligible against rows of thousands."""
    if bits == 8:
        return 1.0
    scales = (1 + 4 / 256) / 64 if double_quant else 4 / 64
    return 0.5 + scales


def estimate(
    strategy: str,
    counts: Counts,
    n_gpus: int,
    batch_size: int,
    length: int,
    activations: int,
    compute_bytes: int,
) -> Estimate:
    """Per-GPU bytes of ``strategy`` on ``n_gpus`` GPUs (``activations``: the traced bytes of one micro-batch)."""
    p, t, n, c = counts.params, counts.trainable, n_gpus, compute_bytes
    adam = 8 * t  # exp_avg + exp_avg_sq, float32
    buckets = 4 * t if n > 1 else 0  # DDP's gradient buckets: a second float32 copy of the gradients
    gathered = 2 * c * counts.largest_block  # the unsharded block being computed + the one prefetched
    # autocast keeps a c-byte copy of every trainable weight for the whole forward pass (DDP, QLoRA via the
    # Trainer); FSDP2 / DeepSpeed hold c-byte parameters themselves
    autocast = c * t if c < 4 else 0
    if strategy == "ddp":
        weights, grads, optim = 4 * p + autocast, 4 * t + buckets, adam
    elif strategy == "fsdp":
        weights, grads, optim = 4 * p // n + gathered, 4 * t // n + c * counts.largest_block, adam // n
    elif strategy in ("deepspeed_zero2", "deepspeed_zero3"):
        master = 4 * t if c < 4 else 0  # float32 master weights beside the c-byte model (mixed precision)
        model = c * p if strategy == "deepspeed_zero2" else c * p // n + gathered
        weights, grads, optim = model, 4 * t // n, (adam + master) // n
    elif strategy == "qlora":
        q = counts.quantized
        stored = int(q * quantized_bytes_per_weight(counts.bits, counts.double_quant))
        weights, grads, optim = stored + 4 * (p - q) + autocast, 4 * t + buckets, adam
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    return Estimate(strategy, n, batch_size, length, weights, grads, optim, activations)
