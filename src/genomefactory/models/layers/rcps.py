"""Reverse-complement parameter sharing (RCPS; Zhou et al. 2022, as used by Caduceus-PS).

Convention: an RCPS hidden state has 2·d channels laid out ``[fwd | rc]`` with shape (batch, length, 2·d). The
reverse complement of such a tensor flips *both* the length and the channel axis (``rc_hidden``); of a token-id
tensor (batch, length) it flips the length axis and maps every id through ``complement_map`` (``rc_ids``). A module
``f`` is RC-equivariant when ``f(rc(x)) == rc(f(x))``. Each wrapper below applies one set of weights to the fwd
half and to the reverse complement of the rc half, so the equivariance holds exactly (up to float rounding), for
any weights.

``rcps_combine`` turns a (…, 2·d) state into (…, d) by averaging the fwd half with the channel-flipped rc half;
the result at position i of ``rc(x)`` equals the result at position L-1-i of ``x``, so mean pooling over tokens is
exactly RC-invariant.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import ConfigError

__all__ = ["RCPSEmbedding", "RCPSLMHead", "RCPSWrapper", "rc_hidden", "rc_ids", "rcps_combine"]


def rc_hidden(x: Tensor) -> Tensor:
    """Reverse complement of a (batch, length, channels) state: flip length and channels."""
    return torch.flip(x, dims=[-2, -1])


def rc_ids(input_ids: Tensor, complement_map: Tensor) -> Tensor:
    """Reverse complement of token ids (batch, length): reverse, then map each id to its complement's id."""
    return complement_map[torch.flip(input_ids, dims=[-1])]


def rcps_combine(x: Tensor) -> Tensor:
    """(…, 2·d) ``[fwd | rc]`` -> (…, d): mean of the fwd half and the channel-flipped rc half."""
    d = x.shape[-1] // 2
    return (x[..., :d] + torch.flip(x[..., d:], dims=[-1])) / 2


def _complement_buffer(complement_map: Sequence[int]) -> Tensor:
    return torch.tensor([int(c) for c in complement_map], dtype=torch.long)


class RCPSEmbedding(nn.Module):
    """``[E[x] | rc(E[rc_ids(x)])]``: (batch, length) ids -> (batch, length, 2·d_model).

    Published names: ``embedding.weight`` (vocab, d_model) and the ``complement_map`` buffer (vocab,)."""

    def __init__(self, vocab_size: int, d_model: int, complement_map: Sequence[int]) -> None:
        super().__init__()
        if len(complement_map) != vocab_size:
            raise ConfigError(f"complement_map has {len(complement_map)} entries, vocab_size is {vocab_size}")
        self.register_buffer("complement_map", _complement_buffer(complement_map))
        self.embedding = nn.Embedding(vocab_size, d_model)

    @property
    def weight(self) -> Tensor:
        return self.embedding.weight

    def forward(self, input_ids: Tensor) -> Tensor:
        fwd = self.embedding(input_ids)
        rc = rc_hidden(self.embedding(rc_ids(input_ids, self.complement_map)))  # type: ignore[arg-type]
        return torch.cat([fwd, rc], dim=-1)


class RCPSWrapper(nn.Module):
    """Runs ``submodule`` (d -> d channels) on the fwd half and on the reverse complement of the rc half.

    ``mask`` (batch, length) is passed to the submodule, reversed along with the rc half."""

    def __init__(self, submodule: nn.Module) -> None:
        super().__init__()
        self.submodule = submodule

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        d = x.shape[-1] // 2
        mask_rc = None if mask is None else torch.flip(mask, dims=[-1])
        fwd = self.submodule(x[..., :d], mask)
        rc = self.submodule(rc_hidden(x[..., d:]), mask_rc)
        return torch.cat([fwd, rc_hidden(rc)], dim=-1)


class RCPSLMHead(nn.Module):
    """Logits ``W h_fwd + W[complement] flip_channels(h_rc)`` (the published head sums, not averages).

    Published names: ``lm_head.weight`` (vocab, d_model) and the ``complement_map`` buffer."""

    def __init__(self, true_dim: int, vocab_size: int, complement_map: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("complement_map", _complement_buffer(complement_map))
        self.true_dim = true_dim
        self.lm_head = nn.Linear(true_dim, vocab_size, bias=False)

    @property
    def weight(self) -> Tensor:
        return self.lm_head.weight

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != 2 * self.true_dim:
            raise ValueError(f"RCPS LM head expects {2 * self.true_dim} channels, got {x.shape[-1]}")
        w = self.lm_head.weight
        fwd = F.linear(x[..., : self.true_dim], w)
        rc = F.linear(torch.flip(x[..., self.true_dim :], dims=[-1]), w[self.complement_map])  # type: ignore[index]
        return fwd + rc
