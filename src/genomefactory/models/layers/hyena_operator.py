"""The HyenaDNA Hyena operator (order 2) and its implicit long filter, with the published ``-hf`` parameter names.

Names as in the published ``modeling_hyena.py`` (``mixer.in_proj``, ``mixer.short_filter``, ``mixer.out_proj``,
``mixer.filter_fn.{bias, pos_emb.z, pos_emb.t, implicit_filter.*, modulation.deltas}``); the model, its config
handling (the settings dict ``s`` every constructor takes) and checkpoint key handling live in
``models/modeling/hyenadna.py`` (checkpoint key handling: ``models/families/hyenadna.py``).

Shapes: the operator maps (batch, length, d_model) to (batch, length, d_model) and works channels-first
(batch, d, length) inside; kernels are (d, length). ``length`` is at most ``max_seq_len``: the positional table
``pos_emb.z`` has that many rows, is stored in the checkpoint and loaded, never recomputed.

Operator: ``in_proj`` to 3·d → causal depthwise FIR (width 3) → split ``x0, x1, v`` → ``v = x1 ⊙ v`` →
``v = k * v + bias ⊙ v`` (causal long convolution by FFT with 2L padding) → ``out_proj(x0 ⊙ v)``.
The kernel ``k`` is implicit: an MLP with ``sin(freq·x)`` activations (one ``freq`` shared by the three activation
slots, stored once in the checkpoint) maps positional features ``z`` to d channels, then an exponential decay window
multiplies it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ...errors import DataError
from .fftconv import fft_causal_conv, short_causal_conv

__all__ = ["ExponentialModulation", "HyenaFilter", "HyenaOperator", "PositionalEmbedding", "Sin"]


class Sin(nn.Module):
    """``sin(freq · x)``; one instance fills three slots of the filter MLP, so ``freq`` is shared."""

    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        freq = float(s["activation_freq"]) * torch.ones(1, int(s["filter_order"]))
        if s["train_freq"]:
            self.freq = nn.Parameter(freq)
        else:  # the published class keeps a plain tensor then, so it is not in the state dict
            self.register_buffer("freq", freq, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.freq * x)


class PositionalEmbedding(nn.Module):
    """``z_t = [t, cos(-2π f t'/L), sin(-2π f t'/L)]``; ``z`` is a (slow-learning) parameter, ``t`` a buffer."""

    t: Tensor

    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        length, bands = int(s["max_seq_len"]), (int(s["emb_dim"]) - 1) // 2
        t = torch.linspace(0, 1, length)[None, :, None]
        w = 2 * math.pi * torch.linspace(0, length - 1, length)[None, :, None] / length
        f = torch.linspace(1e-4, bands - 1, bands)[None, None]
        self.z = nn.Parameter(torch.cat([t, torch.cos(-f * w), torch.sin(-f * w)], dim=-1))
        self.register_buffer("t", t)


class ExponentialModulation(nn.Module):
    """Decay window ``exp(-t·|δ_c|) + 0.05``; rates spread so the fastest channel falls to 1e-2 at 30% of L."""

    deltas: Tensor

    def __init__(self, d_model: int, fast: float = 0.3, slow: float = 1.5, target: float = 1e-2) -> None:
        super().__init__()
        deltas = torch.linspace(math.log(target) / slow, math.log(target) / fast, d_model)[None, None]
        self.register_buffer("deltas", deltas)
        self.shift = 0.05

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        return h * (torch.exp(-t * self.deltas.abs()) + self.shift)


class HyenaFilter(nn.Module):
    """``mixer.filter_fn``: implicit long-convolution kernel (MLP of positional features, decay window)."""

    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        d, order = int(s["d_model"]), int(s["filter_order"])
        self.bias = nn.Parameter(torch.randn(d))  # the "D" skip term of the long convolution
        self.pos_emb = PositionalEmbedding(s)
        act = Sin(s)
        layers: list[nn.Module] = [nn.Linear(int(s["emb_dim"]), order), act]
        for _ in range(int(s["num_inner_mlps"])):
            layers += [nn.Linear(order, order), act]
        layers.append(nn.Linear(order, d, bias=False))
        self.implicit_filter = nn.Sequential(*layers)
        self.modulation = ExponentialModulation(d)

    def kernel(self, length: int) -> Tensor:
        """(d, length) causal kernel evaluated at the first ``length`` positions."""
        z, t = self.pos_emb.z[:, :length], self.pos_emb.t[:, :length]
        h = self.modulation(t, self.implicit_filter(z.to(self.bias.dtype)))
        return h[0].transpose(0, 1)


class HyenaOperator(nn.Module):
    """``mixer``: the order-2 Hyena operator (see the module docstring)."""

    def __init__(self, s: dict[str, Any]) -> None:
        super().__init__()
        d = int(s["d_model"])
        self.d_model, self.max_len = d, int(s["max_seq_len"])
        self.in_proj = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)
        width = int(s["short_filter_order"])
        self.short_filter = nn.Conv1d(3 * d, 3 * d, width, padding=width - 1, groups=3 * d)
        self.filter_fn = HyenaFilter(s)
        self.dropout = nn.Dropout(float(s["hyena_dropout"]))

    def forward(self, u: Tensor) -> Tensor:
        length = u.shape[1]
        if length > self.max_len:
            raise DataError(
                f"HyenaDNA: input of {length} tokens exceeds max_seq_len={self.max_len} of this model"
            )
        z = short_causal_conv(
            self.in_proj(u).transpose(1, 2), self.short_filter.weight, self.short_filter.bias
        )
        x0, x1, v = z.split(self.d_model, dim=1)
        v = self.dropout(v * x1)
        v = fft_causal_conv(v, self.filter_fn.kernel(length), self.filter_fn.bias)
        return self.out_proj((v * x0).transpose(1, 2))
