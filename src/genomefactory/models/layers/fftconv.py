"""Causal convolutions for the long-convolution families (HyenaDNA, Evo/StripedHyena).

Shapes: signals are channels-first, ``u`` is (..., channels, length); a long kernel ``k`` is (channels, length)
or broadcastable to ``u`` with the same last dimension ``length``; ``k[c, j]`` is the weight of the input ``j``
steps in the past, so ``y[..., c, t] = sum_{j<=t} k[c, j] * u[..., c, t-j] + D[c] * u[..., c, t]``.

``fft_causal_conv`` evaluates that sum in O(L log L) time and O(channels * L) memory: it never builds an L×L
(Toeplitz) matrix. Both signals are zero-padded to 2L before the FFT: a length-L FFT computes a *circular*
convolution, in which the tail of the kernel wraps around and mixes future inputs into early outputs. With 2L
points the wrap-around lands entirely in the discarded second half, so output ``t`` depends only on inputs
``<= t``. The transform runs in float32 (half-precision FFTs lose too much over long sequences) and the result is
cast back to the input's dtype.

``short_causal_conv`` is the width-3 depthwise FIR filter both families apply after their input projection;
``align_left``/``restore_alignment`` let a causal model run a left-padded batch exactly as if each sequence were
alone (the padding is moved behind the sequence, where a causal model cannot see it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["align_left", "direct_causal_conv", "fft_causal_conv", "restore_alignment", "short_causal_conv"]


def fft_causal_conv(u: Tensor, k: Tensor, skip: Tensor | None = None) -> Tensor:
    """Causal long convolution of ``u`` (..., C, L) with kernel ``k`` (C, L) by FFT, plus ``skip[c] * u``."""
    length = u.shape[-1]
    if k.shape[-1] < length:
        raise ValueError(
            f"fft_causal_conv: kernel length {k.shape[-1]} is shorter than the input length {length}"
        )
    k = k[..., :length]
    n = 2 * length  # 2L padding: a shorter FFT would wrap the kernel's tail onto earlier outputs
    k_f = torch.fft.rfft(k.to(torch.float32), n=n)
    u_f = torch.fft.rfft(u.to(torch.float32), n=n)
    y = torch.fft.irfft(u_f * k_f, n=n)[..., :length]
    if skip is not None:
        y = y + u.to(torch.float32) * skip.to(torch.float32).unsqueeze(-1)
    return y.to(u.dtype)


def direct_causal_conv(u: Tensor, k: Tensor, skip: Tensor | None = None) -> Tensor:
    """Reference O(L²)-time evaluation of :func:`fft_causal_conv` (tests and benchmarks only)."""
    length, channels = u.shape[-1], u.shape[-2]
    lead = u.shape[:-2]
    x = u.reshape(-1, channels, length).to(torch.float32)
    # conv1d is a cross-correlation: flip the kernel and pad L-1 zeros on the left to make it causal
    w = k[..., :length].to(torch.float32).flip(-1).unsqueeze(1)
    y = F.conv1d(F.pad(x, (length - 1, 0)), w, groups=channels)
    if skip is not None:
        y = y + x * skip.to(torch.float32).unsqueeze(-1)
    return y.reshape(*lead, channels, length).to(u.dtype)


def short_causal_conv(u: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Depthwise causal FIR filter: ``u`` (B, C, L), ``weight`` (C, 1, K); output[t] sees inputs t-K+1 .. t."""
    width = weight.shape[-1]
    y = F.conv1d(F.pad(u, (width - 1, 0)), weight, groups=u.shape[1])
    return y if bias is None else y + bias[None, :, None]


def align_left(input_ids: Tensor, attention_mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Rotate each row so its real tokens start at position 0; returns the rotated ids and per-row shifts.

    ``attention_mask`` (batch, length) must mark one contiguous run of real tokens per row (left or right
    padding). Returns ``shifts=None`` when no row needs moving, so unpadded batches cost nothing.
    """
    if attention_mask is None:
        return input_ids, None
    if attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"attention_mask shape {tuple(attention_mask.shape)} differs from input_ids {tuple(input_ids.shape)}"
        )
    mask = attention_mask != 0
    shifts = (~mask).long().cumprod(dim=1).sum(dim=1)  # number of leading padding positions per row
    if not bool(shifts.any()):
        return input_ids, None
    rolled = _roll_rows(mask.long(), shifts)
    if bool((rolled[:, 1:] > rolled[:, :-1]).any()):
        raise ValueError(
            "attention_mask must mark one contiguous run of real tokens per row (left or right padding)"
        )
    return _roll_rows(input_ids, shifts), shifts


def restore_alignment(hidden: Tensor, shifts: Tensor | None) -> Tensor:
    """Undo :func:`align_left` on (batch, length, ...) outputs."""
    return hidden if shifts is None else _roll_rows(hidden, -shifts)


def _roll_rows(x: Tensor, shifts: Tensor) -> Tensor:
    """``out[b, i] = x[b, (i + shifts[b]) mod L]`` for any trailing dimensions."""
    length = x.shape[1]
    idx = (torch.arange(length, device=x.device)[None, :] + shifts[:, None].to(x.device)) % length
    idx = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.gather(x, 1, idx)
