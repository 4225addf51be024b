"""Rotary position embeddings (RoPE, Su et al.) in the rotate-half (GPT-NeoX / ESM) layout.

Conventions: positions are 0-based token indices ``0 .. length-1`` (right padding keeps every real token at its
own position). Tensors are (batch, heads, length, head_dim); the rotation pairs channel ``c`` with channel
``c + head_dim/2`` and turns the pair by angle ``position * inv_freq[c]``, where
``inv_freq[c] = base^(-2c/head_dim)``. The full head dimension is rotated.

``inv_freq`` is a *persistent* buffer because the ESM-derived checkpoints (Nucleotide Transformer v2) store it
under ``...attention.self.rotary_embeddings.inv_freq``; keeping it in the state dict makes their key set load
strictly, and our saved files carry the same keys.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...config import ConfigError

__all__ = ["RotaryEmbedding", "apply_rotary", "rotary_inv_freq", "rotate_half"]


def rotary_inv_freq(head_dim: int, base: float = 10000.0) -> Tensor:
    """``base^(-2c/head_dim)`` for c = 0 .. head_dim/2 - 1 (float32)."""
    if head_dim % 2:
        raise ConfigError(f"rotary embeddings need an even head dimension, got {head_dim}")
    return 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))


def rotate_half(x: Tensor) -> Tensor:
    """(x1, x2) -> (-x2, x1) over the two halves of the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    return x * cos + rotate_half(x) * sin


class RotaryEmbedding(nn.Module):
    """Rotates queries and keys by their position; no trainable parameters."""

    inv_freq: Tensor

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.register_buffer("inv_freq", rotary_inv_freq(head_dim, base), persistent=True)

    def cos_sin(self, length: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """(length, head_dim) cosine and sine tables, computed in float32 (float64 for float64 models) then cast."""
        # half-precision angles would round positions > 256; float64 models get float64 tables as ESM's code does
        work = torch.float64 if dtype == torch.float64 else torch.float32
        t = torch.arange(length, device=device, dtype=work)
        freqs = torch.outer(t, self.inv_freq.to(device=device, dtype=work))
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def forward(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        cos, sin = self.cos_sin(q.shape[-2], q.device, q.dtype)
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
