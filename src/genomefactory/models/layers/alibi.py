"""ALiBi (attention with linear biases, Press et al. 2022) for bidirectional encoders such as DNABERT-2.

Conventions: positions are 0-based token indices; the bias added to the attention score of query ``i`` and key
``j`` in head ``h`` is ``-m_h * |i - j|`` (symmetric, so an encoder sees both directions alike). Shapes:
``alibi_slopes(n)`` is (heads,); ``alibi_bias(slopes, length)`` is (heads, length, length).

Slopes: for a power-of-two head count ``n`` they are the geometric series ``2^(-8k/n)``, k = 1..n. For other
counts the series of the largest power of two ``p < n`` is followed by every other slope of the ``2p`` series
(its odd-indexed terms, which interleave with the first series) until there are ``n``; for 12 heads that is
``2^-1 ... 2^-8`` then ``2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5``. This is the order the published checkpoints were
trained with, so it matters: a permuted slope order gives each head another head's distance penalty.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["alibi_bias", "alibi_slopes"]


def _power_of_two_slopes(n: int) -> list[float]:
    return [2.0 ** (-8.0 * (k + 1) / n) for k in range(n)]


def alibi_slopes(n_heads: int) -> Tensor:
    """Per-head slopes ``m_h`` (float32, shape (heads,)) in the published head order."""
    if n_heads < 1:
        raise ValueError(f"alibi_slopes: n_heads must be >= 1, got {n_heads}")
    p = 2 ** math.floor(math.log2(n_heads))
    slopes = _power_of_two_slopes(p)
    if p != n_heads:
        slopes += _power_of_two_slopes(2 * p)[0::2][: n_heads - p]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(
    slopes: Tensor, length: int, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """The (heads, length, length) additive bias ``-m_h * |i - j|``."""
    pos = torch.arange(length, device=device)
    distance = (pos[None, :] - pos[:, None]).abs().to(torch.float32)
    bias = -slopes.to(device=device, dtype=torch.float32)[:, None, None] * distance[None]
    return bias.to(dtype)
