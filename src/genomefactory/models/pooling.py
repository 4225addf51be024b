"""Mask-aware pooling of token hidden states into one vector per sequence.

Shapes: ``hidden`` is (batch, length, hidden); ``attention_mask`` is (batch, length) with 1 for real tokens and 0
for padding. Families pad on the left (decoders, HyenaDNA, Caduceus) or on the right (BERT-like encoders), so no
method here assumes where the padding is:

- ``mean``: average over real tokens only (padding never enters the sum or the count);
- ``max``: element-wise maximum over real tokens;
- ``cls``: the first real token (the ``[CLS]``/``<cls>`` of encoders; the first base for left-padded models);
- ``last``: the last real token (what a causal decoder has seen the whole sequence at);
- ``token`` (alias ``none``): no pooling; (batch, length, hidden) with padded positions set to zero.

Sums are accumulated in float32 so bf16/fp16 hidden states do not lose precision over long sequences; the result
has the dtype of ``hidden``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import ConfigError
from ..errors import DataError

__all__ = ["POOLING_METHODS", "first_token_index", "last_token_index", "pool"]

POOLING_METHODS = ("mean", "max", "cls", "last", "token", "none")


def _check(hidden: Tensor, mask: Tensor) -> Tensor:
    if hidden.dim() != 3:
        raise ValueError(f"pool: hidden must be (batch, length, hidden), got shape {tuple(hidden.shape)}")
    if mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"pool: attention_mask shape {tuple(mask.shape)} does not match hidden states "
            f"(batch, length) = {tuple(hidden.shape[:2])}"
        )
    m = mask.to(device=hidden.device) != 0
    if not bool(m.any(dim=1).all()):
        rows = torch.nonzero(~m.any(dim=1)).flatten().tolist()
        raise DataError(f"pool: rows {rows[:10]} of the batch have no real token (attention_mask all zero)")
    return m


def first_token_index(mask: Tensor) -> Tensor:
    """Index of the first non-padding position of each row of a (batch, length) mask."""
    m = (mask != 0).to(torch.int8)
    return torch.argmax(m, dim=1)


def last_token_index(mask: Tensor) -> Tensor:
    """Index of the last non-padding position of each row of a (batch, length) mask."""
    m = (mask != 0).to(torch.int8)
    length = m.shape[1]
    return length - 1 - torch.argmax(m.flip(1), dim=1)


def pool(hidden: Tensor, attention_mask: Tensor | None, how: str) -> Tensor:
    """Pool (batch, length, hidden) -> (batch, hidden) over real tokens; ``how='token'`` keeps the length axis."""
    if how not in POOLING_METHODS:
        raise ConfigError(f"unknown pooling {how!r}; choose one of {', '.join(POOLING_METHODS)}")
    if attention_mask is None:
        attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
    m = _check(hidden, attention_mask)
    if how == "mean":
        w = m.unsqueeze(-1).to(torch.float32)
        summed = (hidden.to(torch.float32) * w).sum(dim=1)
        return (summed / w.sum(dim=1)).to(hidden.dtype)
    if how == "max":
        filled = hidden.masked_fill(~m.unsqueeze(-1), float("-inf"))
        return filled.max(dim=1).values
    if how in ("token", "none"):
        return hidden.masked_fill(~m.unsqueeze(-1), 0.0)
    idx = first_token_index(m) if how == "cls" else last_token_index(m)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, idx]
