"""Padding-free ("packed") encoder path: real tokens only, variable-length attention, no cross-sequence attention.

A right-padded batch (batch, length) is *packed* into (total, ...) rows holding only its real tokens, sequence
after sequence; ``cu_seqlens`` (batch + 1,) int32 are the cumulative sequence lengths (FlashAttention's varlen
convention) and ``positions`` (total,) the 0-based position of each token inside its own sequence, so ALiBi
distances and rotary angles restart at 0 for every sequence. Linear layers, norms and MLPs then run on ``total``
rows instead of ``batch x length``; only attention needs the sequence structure:

- CUDA + ``flash_attn`` importable + fp16/bf16: ``flash_attn_varlen_func`` over the packed rows (ALiBi slopes
  passed to the kernel; its non-causal bias is ``-m_h |i - j|`` for equal query/key lengths, as DNABERT-2's).
- CUDA + fp16/bf16 without ``flash_attn``, no bias (rotary models: NT v2) and no attention dropout: PyTorch's own
  FlashAttention kernel for packed rows, ``torch.nn.attention.varlen.varlen_attn`` (torch >= 2.10), so the
  padding-free path needs no extra package on a GPU.
- otherwise: the packed q/k/v are scattered into (batch, heads, max_len, head_dim) with ``max_len`` the longest
  *real* sequence, attended with ``scaled_dot_product_attention`` under a key-padding mask (plus the ALiBi bias),
  and gathered back. That is per-sequence attention (no token sees another sequence or a pad) at the cost of
  one scatter/gather per layer.

The padded and packed paths compute the same function; ``tests/models/test_packed.py`` checks them against each
other. Models that offer both carry an ``attn_path`` attribute (``"padded"`` or ``"packed"``), switched with
:func:`set_attention_path`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import ConfigError

__all__ = [
    "ATTN_PATHS",
    "Packed",
    "flash_available",
    "pack",
    "repad",
    "run_packed",
    "set_attention_path",
    "unpad",
    "varlen_attention",
]

ATTN_PATHS = ("padded", "packed")


@dataclass(frozen=True)
class Packed:
    """Where the real tokens of a right-padded (batch, length) batch went."""

    indices: Tensor  # (total,) flat index of each real token in (batch * length)
    dense_indices: Tensor  # (total,) flat index in (batch * max_len), the cropped layout used by SDPA
    cu_seqlens: Tensor  # (batch + 1,) int32
    positions: Tensor  # (total,) position within its own sequence
    lengths: Tensor  # (batch,)
    max_len: int
    batch: int
    length: int
    key_mask: Tensor | None  # (batch, 1, 1, max_len) bool, None when every sequence has max_len tokens
    bias: Tensor | None = None  # additive (1 or batch, heads, max_len, max_len) for the SDPA path (ALiBi)
    alibi_slopes: Tensor | None = None  # (heads,) float32 for the flash path

    @property
    def total(self) -> int:
        return int(self.indices.numel())

    def with_attention(self, bias: Tensor | None = None, alibi_slopes: Tensor | None = None) -> Packed:
        return replace(self, bias=bias, alibi_slopes=alibi_slopes)


def pack(attention_mask: Tensor) -> Packed:
    """Index bookkeeping for a right-padded mask (batch, length) of 1 = real token, 0 = padding."""
    mask = attention_mask.bool()
    b, n = mask.shape
    lengths = mask.sum(1)
    cols = torch.arange(n, device=mask.device)
    if not torch.equal(mask, cols[None, :] < lengths[:, None]):
        raise ValueError(
            "the packed attention path needs right-padded batches (real tokens first in every row); "
            "use attn_path='padded' for other layouts"
        )
    max_len = int(lengths.max()) if b else 0
    rows, pos = mask.nonzero(as_tuple=True)
    cu = torch.zeros(b + 1, dtype=torch.int32, device=mask.device)
    cu[1:] = lengths.cumsum(0)
    key_mask = None
    if bool((lengths != max_len).any()):
        key_mask = (cols[:max_len][None, :] < lengths[:, None])[:, None, None, :]
    return Packed(rows * n + pos, rows * max_len + pos, cu, pos, lengths, max_len, b, n, key_mask)


def unpad(x: Tensor, p: Packed) -> Tensor:
    """(batch, length, ...) -> (total, ...) real tokens only."""
    return x.flatten(0, 1).index_select(0, p.indices)


def repad(x: Tensor, p: Packed, dense: bool = False) -> Tensor:
    """(total, ...) -> (batch, length, ...) (or (batch, max_len, ...) when ``dense``), zeros at padding."""
    width = p.max_len if dense else p.length
    out = x.new_zeros((p.batch * width, *x.shape[1:]))
    out = out.index_copy(0, p.dense_indices if dense else p.indices, x)
    return out.view(p.batch, width, *x.shape[1:])


def run_packed(
    layers: nn.ModuleList, x: Tensor, p: Packed, output_hidden_states: bool, final: nn.Module | None = None
) -> Any:
    """Embeddings ``x`` (batch, length, hidden) through ``layers`` on real tokens only, then ``final`` (a norm),
    returned re-padded as a ``BaseModelOutput`` (padded positions zero; hidden states only when asked)."""
    from transformers.modeling_outputs import BaseModelOutput

    h = unpad(x, p)
    states = [h]
    for layer in layers:
        h = layer(h, p)
        states.append(h)
    if final is not None:
        states[-1] = h = final(h)
    if not output_hidden_states:
        return BaseModelOutput(last_hidden_state=repad(h, p))
    padded = tuple(repad(s, p) for s in states)
    return BaseModelOutput(last_hidden_state=padded[-1], hidden_states=padded)


def _cuda_half(x: Tensor) -> bool:
    """The FlashAttention kernels' domain: CUDA fp16/bf16 tensors."""
    return x.is_cuda and x.dtype in (torch.float16, torch.bfloat16)


def flash_available(x: Tensor) -> bool:
    """True when ``flash_attn`` imports and ``x`` is a CUDA fp16/bf16 tensor."""
    if not _cuda_half(x):
        return False
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        return False
    return True


def _torch_varlen(x: Tensor, p: Packed, dropout_p: float) -> Any:
    """PyTorch's packed FlashAttention when it applies to ``x`` (CUDA fp16/bf16, no bias, no dropout), else None."""
    if not _cuda_half(x) or p.bias is not None or dropout_p > 0:
        return None
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn


def varlen_attention(
    q: Tensor, k: Tensor, v: Tensor, p: Packed, scale: float, dropout_p: float = 0.0
) -> Tensor:
    """Attention within each sequence of the pack: q, k, v (total, heads, head_dim) -> (total, heads, head_dim).

    Position information is the caller's (rotary applied to q/k beforehand) or ``p``'s ALiBi (``with_attention``).
    """
    if flash_available(q) and (p.bias is None or p.alibi_slopes is not None):
        from flash_attn import flash_attn_varlen_func

        slopes = None if p.alibi_slopes is None else p.alibi_slopes.to(device=q.device, dtype=torch.float32)
        out: Tensor = flash_attn_varlen_func(
            q,
            k,
            v,
            p.cu_seqlens,
            p.cu_seqlens,
            p.max_len,
            p.max_len,
            dropout_p=dropout_p,
            softmax_scale=scale,
            causal=False,
            alibi_slopes=slopes,
        )
        return out
    torch_varlen = _torch_varlen(q, p, dropout_p)
    if torch_varlen is not None:
        res: Tensor = torch_varlen(q, k, v, p.cu_seqlens, p.cu_seqlens, p.max_len, p.max_len, scale=scale)
        return res
    qd, kd, vd = (repad(t, p, dense=True).transpose(1, 2) for t in (q, k, v))  # (batch, heads, max_len, d)
    mask: Any = p.bias
    if p.key_mask is not None:
        mask = p.key_mask if mask is None else mask.masked_fill(~p.key_mask, torch.finfo(mask.dtype).min)
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.to(q.dtype)
    out = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=mask, dropout_p=dropout_p, scale=scale)
    return out.transpose(1, 2).flatten(0, 1).index_select(0, p.dense_indices)


def set_attention_path(model: nn.Module, path: str) -> int:
    """Set ``attn_path`` on every submodule that has one; returns how many. An unknown path or a model without
    a packed implementation is an error (a silent no-op would make a benchmark measure the wrong thing)."""
    if path not in ATTN_PATHS:
        raise ValueError(f"attention path {path!r} is unknown; choose from {', '.join(ATTN_PATHS)}")
    n = 0
    for m in model.modules():
        if hasattr(m, "attn_path"):
            setattr(m, "attn_path", path)  # noqa: B010 (mypy: nn.Module attributes are typed as Tensor | Module)
            n += 1
    if n == 0 and path != "padded":
        raise ConfigError(
            f"{type(model).__name__} has no packed attention path (DNABERT-2 and NT v1/v2 have one)"
        )
    return n
