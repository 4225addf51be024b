"""Caduceus building blocks: the bidirectional Mamba mixer (BiMamba), the pre-norm block, its add + norm step and
the token embedding.

Parameter names are those of the published Caduceus code (``mixer.mamba_fwd.*``, ``mixer.mamba_rev.*``,
``norm.weight`` or, on the unfused PS path, ``norm.submodule.weight``); the model, its config parsing
(``_Cfg``) live in ``models/modeling/caduceus.py``, the family spec in ``models/families/caduceus.py``. Shapes: (batch, length, d_model), or
(batch, length, 2·d_model) laid out ``[fwd | rc]`` for PS (``layers/rcps.py``).

Block: ``residual += hidden; hidden = BiMamba(norm(residual))`` (pre-norm, Mamba style; ``norm`` is RMSNorm or
LayerNorm, ``residual_in_fp32`` keeps the residual stream in float32). BiMamba = ``M_fwd(h) + flip(M_rev(flip(h)))``
along the length axis (``ew_multiply``: ``⊙`` instead of ``+``); ``mamba_rev`` shares ``in_proj``/``out_proj``
with ``mamba_fwd`` (``bidirectional_weight_tie``). **PS** (``rcps: true``): mixer and norms run on the fwd half and
on the reverse complement of the rc half with the same weights. With the published ``fused_add_norm: true`` the
fused kernel path of the published code swaps the two halves of both the hidden state and the residual in every
block; the checkpoints were trained that way, so we reproduce it (``fused_add_norm: false`` gives the unswapped
variant). Both are exactly RC-equivariant: ``f(rc(x)) = rc(f(x))``. Padding: ``mask`` (batch, length), 1 = token,
is passed to both mixers (flipped for the reverse one), see ``layers/mamba.py``.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor, nn

from .mamba import MambaMixer
from .rcps import RCPSEmbedding, RCPSWrapper, rc_hidden
from .rmsnorm import RMSNorm

__all__ = [
    "BiMamba",
    "BiMambaConfig",
    "CaduceusBlock",
    "CaduceusEmbeddings",
    "NormHolder",
    "add_norm",
    "make_norm",
    "unwrap_norm",
]


class BiMambaConfig(Protocol):
    """The config fields these blocks read (``modeling.caduceus._Cfg`` provides them)."""

    d_model: int
    ssm_cfg: dict[str, Any]
    rms_norm: bool
    fused_add_norm: bool
    residual_in_fp32: bool
    norm_epsilon: float
    bidirectional: bool
    strategy: str
    weight_tie: bool
    rcps: bool
    vocab_size: int
    complement: list[int]


class BiMamba(nn.Module):
    """``mamba_fwd(h) (+ or ⊙) flip(mamba_rev(flip(h)))``; in/out projections shared when ``weight_tie``."""

    def __init__(self, cfg: BiMambaConfig) -> None:
        super().__init__()
        self.strategy, self.tied = cfg.strategy, cfg.weight_tie
        self.mamba_fwd = MambaMixer(cfg.d_model, **cfg.ssm_cfg)
        self.mamba_rev = MambaMixer(cfg.d_model, **cfg.ssm_cfg) if cfg.bidirectional else None
        if self.mamba_rev is not None and cfg.weight_tie:
            # the same Parameter objects under both names, as in the published module tree (checkpoint keys)
            for proj in ("in_proj", "out_proj"):
                mine, theirs = getattr(self.mamba_rev, proj), getattr(self.mamba_fwd, proj)
                mine.weight = theirs.weight
                mine.bias = theirs.bias

    def forward(self, hidden: Tensor, mask: Tensor | None = None) -> Tensor:
        out = self.mamba_fwd(hidden, mask)
        if self.mamba_rev is None:
            return out
        mask_rev = None if mask is None else mask.flip(-1)
        # tied: the reverse pass calls the forward mixer's projection *modules*, so a LoRA adapter on them serves
        # both directions and merging it into the shared weight changes nothing (two adapters would both be
        # merged into the one shared tensor)
        shared = (self.mamba_fwd.in_proj, self.mamba_fwd.out_proj) if self.tied else None
        rev = self.mamba_rev(hidden.flip(1), mask_rev, shared).flip(1)
        return out + rev if self.strategy == "add" else out * rev


class NormHolder(nn.Module):
    """Holds a norm under ``.submodule`` (the published unfused PS path nests its norms this way)."""

    def __init__(self, submodule: nn.Module) -> None:
        super().__init__()
        self.submodule = submodule


def make_norm(cfg: BiMambaConfig) -> nn.Module:
    return (
        RMSNorm(cfg.d_model, cfg.norm_epsilon)
        if cfg.rms_norm
        else nn.LayerNorm(cfg.d_model, cfg.norm_epsilon)
    )


def unwrap_norm(norm: nn.Module) -> nn.Module:
    return norm.submodule if isinstance(norm, NormHolder) else norm


def add_norm(
    cfg: BiMambaConfig, norm: nn.Module, hidden: Tensor, residual: Tensor | None, swap: bool
) -> tuple[Tensor, Tensor]:
    """(normalised ``hidden + residual``, new residual). For PS the fwd half is normalised directly and the rc
    half as ``rc(norm(rc(·)))``; ``swap`` exchanges the halves first, as the published fused-kernel path does."""
    s = hidden if residual is None else hidden + residual
    if cfg.residual_in_fp32:
        s = s.float()
    if not cfg.rcps:
        return norm(s).to(hidden.dtype), s
    d = cfg.d_model
    first, second = (s[..., d:], s[..., :d]) if swap else (s[..., :d], s[..., d:])
    normed = torch.cat([norm(first), rc_hidden(norm(rc_hidden(second)))], dim=-1)
    return normed.to(hidden.dtype), torch.cat([first, second], dim=-1)


class CaduceusBlock(nn.Module):
    """``residual += hidden; hidden = mixer(norm(residual))`` with the published PS half handling."""

    def __init__(self, cfg: BiMambaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mixer: nn.Module = RCPSWrapper(BiMamba(cfg)) if cfg.rcps else BiMamba(cfg)
        norm = make_norm(cfg)
        self.norm: nn.Module = NormHolder(norm) if cfg.rcps and not cfg.fused_add_norm else norm

    def forward(self, hidden: Tensor, residual: Tensor | None, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        normed, residual = add_norm(
            self.cfg, unwrap_norm(self.norm), hidden, residual, swap=self.cfg.fused_add_norm
        )
        return self.mixer(normed, mask), residual


class CaduceusEmbeddings(nn.Module):
    """``embeddings.word_embeddings``: (batch, length) ids -> (batch, length, d_model), or 2·d_model for PS."""

    def __init__(self, cfg: BiMambaConfig) -> None:
        super().__init__()
        self.word_embeddings: nn.Module = (
            RCPSEmbedding(cfg.vocab_size, cfg.d_model, cfg.complement)
            if cfg.rcps
            else nn.Embedding(cfg.vocab_size, cfg.d_model)
        )

    def forward(self, input_ids: Tensor) -> Tensor:
        return self.word_embeddings(input_ids)  # type: ignore[no-any-return]
