"""StripedHyena building blocks (Evo-1): RMSNorm, gated MLP, modal Hyena filter, hyena and attention blocks.

Parameter names are those of ``stripedhyena.model`` so that the modules compose into the published checkpoint
layout (``blocks.{i}.filter.*``, ``blocks.{i}.inner_mha_cls.*``, ...); the model and its config handling live in
``models/modeling/evo.py`` (spec: ``models/families/evo.py``). Every constructor takes the (already defaulted
and checked) config dict.

Conventions
- Shapes: hidden states (batch, length, hidden); Hyena filters channels-first (batch, hidden, length).
- Hyena block: ``z = projections(RMSNorm(u))`` (3·hidden) → causal depthwise FIR (width 3, bias added after) →
  per-head column split (each head's 3·head_dim slice is ``x2 | x1 | v``) → ``y = x2 ⊙ (h ∗ (x1⊙v) + D ⊙ x1⊙v)``
  with the modal long filter ``h_c[t] = Re Σ_n R_cn p_cn^t`` (poles/residues stored as (re, im) pairs) applied by
  FFT with 2L padding → ``u + out_filter_dense(y)`` → ``+ MLP(RMSNorm(·))``, ``MLP = l3(act(l1 x) ⊙ l2 x)``.
- Attention block: causal MHA with fused ``Wqkv`` (rows q|k|v), rotary (rotate-half, full head dim; positions
  divided by ``rotary_emb_scaling_factor`` when ``use_interpolated_rotary_pos_emb``, 16 for 131k), gated MLP.
- RMSNorm: ``scale · x / (‖x‖₂ · d^{-1/2} + eps)`` (eps outside the root).
- Precision: half-precision casts keep poles and residues float32, like the published loaders.
- Decoding state (one dict per layer): hyena ``fir`` (B, 3·hidden, K-1), the last K-1 projected inputs, and
  ``iir`` (B, hidden, N) complex, the modal state ``s ← p·s + x1⊙v``; attention ``k``/``v`` (B, heads, T, head_dim).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .fftconv import fft_causal_conv, short_causal_conv
from .rotary import apply_rotary, rotary_inv_freq

__all__ = [
    "AttentionBlock",
    "GatedMLP",
    "HyenaBlock",
    "ModalFilter",
    "StripedMHA",
    "StripedRMSNorm",
    "StripedRotary",
]


class StripedRMSNorm(nn.Module):
    """RMSNorm over the last axis with ``eps`` outside the root (``scale``: (hidden,))."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(int(cfg["hidden_size"])))
        self.eps = float(cfg.get("eps", 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        rms = x.norm(2, dim=-1, keepdim=True) * x.shape[-1] ** -0.5
        return self.scale * (x / (rms + self.eps))  # eps outside the root, as published


class GatedMLP(nn.Module):
    """``l3(act(l1 x) ⊙ l2 x)``; inner width ``inner_mlp_size`` or 8/3·hidden rounded up to the multiple."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        d, mult = int(cfg["hidden_size"]), int(cfg.get("inner_size_multiple_of", 64))
        inner = cfg.get("inner_mlp_size") or mult * math.ceil(int(2 * d * 4 / 3) / mult)
        self.l1, self.l2 = nn.Linear(d, inner, bias=False), nn.Linear(d, inner, bias=False)
        self.l3 = nn.Linear(inner, d, bias=False)
        acts: dict[str, Callable[[Tensor], Tensor]] = {"gelu": F.gelu, "silu": F.silu}
        self.act = acts[str(cfg.get("mlp_activation", "silu"))]

    def forward(self, x: Tensor) -> Tensor:
        return self.l3(self.act(self.l1(x)) * self.l2(x))


class ModalFilter(nn.Module):
    """FIR + modal IIR filter of one hyena block (``blocks.{i}.filter``)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        d, n, k = int(cfg["hidden_size"]), int(cfg["state_size"]), int(cfg["short_filter_length"])
        self.heads = int(cfg["num_attention_heads"])
        self.short_filter_weight = nn.Parameter(torch.randn(3 * d, 1, k))
        # zero bias at random init (published: randn), so a random model's features depend on its input
        self.short_filter_bias = (
            nn.Parameter(torch.zeros(3 * d)) if cfg.get("short_filter_bias", True) else None
        )
        self.D = nn.Parameter(torch.zeros(d))
        # random init: stable poles 0.5 <= |p| < 1 so an untrained model already has a long memory
        radius, angle = 0.5 + 0.49 * torch.rand(d, n, 1), math.pi * torch.rand(d, n, 1)
        self.poles = nn.Parameter(torch.stack([radius * angle.cos(), radius * angle.sin()], dim=-1))
        self.residues = nn.Parameter(torch.randn(d, n, 1, 2) / n)

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> ModalFilter:
        """Dtype casts (``model.to(torch.bfloat16)``) leave poles and residues in float32, as the published
        loaders do (``to_bfloat16_except_poles_residues``): a bf16 pole of modulus 0.999 rounds to 1.0 or 0.996,
        and over thousands of positions the filter then decays nothing like the trained one."""
        before = [p.data for p in (self.poles, self.residues)]
        super()._apply(fn, recurse)
        for p, old in zip((self.poles, self.residues), before, strict=True):
            # the values from before the cast, not their rounding
            if p.dtype in (torch.float16, torch.bfloat16):
                p.data = old.to(device=p.device, dtype=torch.float32)
        return self

    def _complex(self) -> tuple[Tensor, Tensor]:
        """(d, N) complex64 poles and residues (kept in float32 whatever the model dtype)."""
        as_c = lambda x: torch.view_as_complex(x.float().contiguous())[..., 0]  # noqa: E731
        return as_c(self.poles), as_c(self.residues)

    def kernel(self, length: int) -> Tensor:
        """(d, length) float32 ``h[t] = Re Σ_n R_n p_n^t``.

        Evaluated in polar form, ``|p|^t (Re R cos(θt) - Im R sin(θt))``: the same sum as the published
        ``Re(R · exp(t · log p))`` but with real exp/cos/sin, several times faster than complex exp on CPU.
        """
        pole, res = self.poles.float()[:, :, 0], self.residues.float()[:, :, 0]  # (d, N, 2)
        t = torch.arange(length, device=pole.device, dtype=torch.float32)
        log_mag = 0.5 * torch.log(pole[..., 0] ** 2 + pole[..., 1] ** 2)
        angle = torch.atan2(pole[..., 1], pole[..., 0])[..., None] * t
        wave = res[..., 0, None] * torch.cos(angle) - res[..., 1, None] * torch.sin(angle)
        return (torch.exp(log_mag[..., None] * t) * wave).sum(1)

    def _split(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Column split: each head's 3·head_dim rows are x2 | x1 | v. ``z`` is (B, 3d, ...)."""
        b, rest = z.shape[0], z.shape[2:]
        parts = z.reshape(b, self.heads, 3, -1, *rest).unbind(2)
        x2, x1, v = (x.reshape(b, -1, *rest) for x in parts)
        return x2, x1, v

    def forward(self, z: Tensor, state: dict[str, Tensor] | None = None) -> Tensor:
        """(B, L, 3d) projected inputs -> (B, L, d); fills ``state`` for decoding when given."""
        u = z.transpose(1, 2)
        length, width = u.shape[-1], self.short_filter_weight.shape[-1]
        x2, x1, v = self._split(short_causal_conv(u, self.short_filter_weight, self.short_filter_bias))
        x1v = x1 * v
        y = fft_causal_conv(x1v, self.kernel(length), self.D) * x2
        if state is not None:
            state["fir"] = F.pad(u, (width - 1, 0))[..., -(width - 1) :]  # last K-1 inputs, zeros before t=0
            p, _ = self._complex()
            powers = torch.exp(p.log()[..., None] * torch.arange(length - 1, -1, -1, device=u.device))
            state["iir"] = torch.einsum("bdl,dnl->bdn", x1v.float().to(powers.dtype), powers)
        return y.transpose(1, 2)

    def step(self, z: Tensor, state: dict[str, Tensor]) -> Tensor:
        """One token: (B, 3d) projected input -> (B, d); updates ``state`` in place."""
        w = self.short_filter_weight[:, 0]
        fir = state["fir"]
        zc = (fir * w[:, :-1]).sum(-1) + w[:, -1] * z
        if self.short_filter_bias is not None:
            zc = zc + self.short_filter_bias
        state["fir"] = torch.cat([fir[..., 1:], z[..., None]], dim=-1)
        x2, x1, v = self._split(zc)
        x1v = x1 * v
        p, r = self._complex()
        state["iir"] = p * state["iir"] + x1v.float()[..., None]
        y = (state["iir"] * r).sum(-1).real + self.D.float() * x1v.float()
        return (x2.float() * y).to(z.dtype)


class HyenaBlock(nn.Module):
    """``blocks.{i}`` of a hyena layer: pre-norm modal-filter mixer, then pre-norm gated MLP."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        d = int(cfg["hidden_size"])
        self.pre_norm, self.post_norm = StripedRMSNorm(cfg), StripedRMSNorm(cfg)
        self.filter = ModalFilter(cfg)
        self.projections = nn.Linear(d, 3 * d)
        self.out_filter_dense = nn.Linear(d, d)
        self.mlp = GatedMLP(cfg)

    def forward(self, u: Tensor, state: dict[str, Tensor] | None = None, step: bool = False) -> Tensor:
        z = self.projections(self.pre_norm(u))
        y = self.filter.step(z, state) if step and state is not None else self.filter(z, state)
        u = u + self.out_filter_dense(y)
        return u + self.mlp(self.post_norm(u))


class StripedRotary(nn.Module):
    """``inner_mha_cls.rotary_emb``: rotate-half rotary embedding over the full head dim."""

    inv_freq: Tensor

    def __init__(self, head_dim: int, base: float, scale: float) -> None:
        super().__init__()
        self.head_dim, self.base, self.scale = head_dim, base, scale
        self.register_buffer("inv_freq", rotary_inv_freq(head_dim, base), persistent=True)  # checkpoint key

    def forward(self, x: Tensor, offset: int) -> Tensor:
        """Rotate (B, H, L, hd) by positions ``(offset + i) / scale``; frequencies recomputed in float32 because
        the published buffer may be stored in bf16 (flash-attn does the same)."""
        inv = rotary_inv_freq(self.head_dim, self.base).to(x.device)
        t = torch.arange(offset, offset + x.shape[-2], device=x.device, dtype=torch.float32) / self.scale
        emb = torch.outer(t, inv).repeat(1, 2)
        return apply_rotary(x, emb.cos().to(x.dtype), emb.sin().to(x.dtype))


class StripedMHA(nn.Module):
    """``blocks.{i}.inner_mha_cls``: fused Wqkv, rotary, causal softmax attention, out_proj."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        d, self.heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
        self.Wqkv = nn.Linear(d, 3 * d, bias=bool(cfg.get("qkv_proj_bias", True)))
        self.out_proj = nn.Linear(d, d, bias=bool(cfg.get("mha_out_proj_bias", True)))
        scale = (
            float(cfg.get("rotary_emb_scaling_factor", 1.0))
            if cfg.get("use_interpolated_rotary_pos_emb")
            else 1.0
        )
        self.rotary_emb = StripedRotary(d // self.heads, float(cfg.get("rotary_emb_base", 10000)), scale)

    def forward(self, x: Tensor, state: dict[str, Tensor] | None = None, offset: int = 0) -> Tensor:
        b, length, d = x.shape
        q, k, v = (
            self.Wqkv(x).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        )
        q, k = self.rotary_emb(q, offset), self.rotary_emb(k, offset)
        if state is not None and "k" in state:  # decoding: attend to everything cached so far
            k, v = torch.cat([state["k"], k], dim=2), torch.cat([state["v"], v], dim=2)
        if state is not None:
            state["k"], state["v"] = k, v
        out = F.scaled_dot_product_attention(q, k, v, is_causal=q.shape[2] == k.shape[2] and length > 1)
        return self.out_proj(out.transpose(1, 2).reshape(b, length, d))


class AttentionBlock(nn.Module):
    """``blocks.{i}`` of an attention layer: pre-norm MHA, then pre-norm gated MLP."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.pre_norm, self.post_norm = StripedRMSNorm(cfg), StripedRMSNorm(cfg)
        self.inner_mha_cls = StripedMHA(cfg)
        self.mlp = GatedMLP(cfg)

    def forward(self, u: Tensor, state: dict[str, Tensor] | None = None, offset: int = 0) -> Tensor:
        u = u + self.inner_mha_cls(self.pre_norm(u), state, offset)
        return u + self.mlp(self.post_norm(u))
