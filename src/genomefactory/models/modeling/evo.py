"""Evo-1 / StripedHyena module with the published parameter names, prefill + recurrent step decoding; the family
spec and conventions are in ``models/families/evo.py``, the blocks in ``layers/striped_hyena.py``.

Shapes: ``input_ids`` (batch, length) byte ids, left padding rotated away (``layers.fftconv.align_left``);
hidden states (batch, length, hidden); logits (batch, length, vocab) float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import ConfigError
from ..families.evo import _COMMON
from ..family import Sampler
from ..layers.fftconv import align_left, restore_alignment
from ..layers.striped_hyena import AttentionBlock, HyenaBlock, StripedRMSNorm

__all__ = ["EvoCache", "EvoOutput", "StripedHyena", "generate"]


@dataclass
class EvoOutput:
    """Forward result: ``logits`` (batch, length, vocab) float32; ``last_hidden_state`` after the final norm."""

    logits: Tensor
    last_hidden_state: Tensor
    hidden_states: tuple[Tensor, ...] | None = None
    loss: Tensor | None = None

    def __getitem__(self, key: str) -> Any:  # mapping-style access, like transformers' ModelOutput
        return getattr(self, key)


@dataclass
class EvoCache:
    """Per-layer decoding state: hyena ``fir`` (B, 3·hidden, K-1) and ``iir`` (B, hidden, N) complex; attention
    ``k``/``v`` (B, heads, T, head_dim). ``offset`` = tokens consumed so far."""

    offset: int = 0
    layers: dict[int, dict[str, Tensor]] = field(default_factory=dict)


def _check(cfg: dict[str, Any]) -> None:
    for key, want in (("proj_groups", 1), ("hyena_filter_groups", 1)):
        if int(cfg.get(key, 1)) != want:
            raise ConfigError(
                f"Evo config: {key}={cfg[key]} is not supported (published Evo-1 models use {want})"
            )
    if int(cfg.get("num_filters", cfg["hidden_size"])) != int(cfg["hidden_size"]):
        raise ConfigError("Evo config: num_filters must equal hidden_size (one modal filter per channel)")
    if not cfg.get("column_split_hyena", True):
        raise ConfigError(
            "Evo config: column_split_hyena=false is not supported (Evo-1 checkpoints column-split)"
        )
    if int(cfg["hidden_size"]) % int(cfg["num_attention_heads"]):
        raise ConfigError("Evo config: hidden_size must be divisible by num_attention_heads")


class StripedHyena(nn.Module):
    """The full Evo-1 language model. Also its own headless backbone: outputs carry ``last_hidden_state``."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        cfg = {**_COMMON, **config}
        _check(cfg)
        self.config_dict = cfg
        d, vocab = int(cfg["hidden_size"]), int(cfg["vocab_size"])
        attn = {int(i) for i in cfg["attn_layer_idxs"]}
        self.embedding_layer = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(
            AttentionBlock(cfg) if i in attn else HyenaBlock(cfg) for i in range(int(cfg["num_layers"]))
        )
        self.norm = StripedRMSNorm(cfg)
        # tied: a second module under the published name sharing the embedding's Parameter, so `unembed.weight`
        # is in our state dict. Not the same module registered twice: torch.distributed.checkpoint (FSDP's full
        # state dicts, checkpoint resume) handles a parameter shared by two modules, not a module with two names.
        if cfg.get("tie_embeddings", True):
            self.unembed = nn.Embedding(vocab, d, _weight=self.embedding_layer.weight)  # no init drawn
            self.unembed.weight = self.embedding_layer.weight  # the same Parameter, so one gradient
        else:
            self.unembed = nn.Embedding(vocab, d)
        # random init (tests, demos): small embeddings, PyTorch's default fan-in scaled linears so that the
        # mixing layers, not the current token's embedding alone, shape a random model's features
        nn.init.normal_(self.embedding_layer.weight, std=0.02)

    def _run(
        self, ids: Tensor, cache: EvoCache | None, step: bool, want_states: bool
    ) -> tuple[Tensor, list[Tensor]]:
        h = self.embedding_layer(ids)
        states = [h]
        offset = cache.offset if cache is not None else 0
        for i, block in enumerate(self.blocks):
            st = cache.layers.setdefault(i, {}) if cache is not None else None
            if isinstance(block, AttentionBlock):
                h = block(h, st, offset)
            else:
                h = block(h[:, 0] if step else h, st, step)
                h = h[:, None] if step else h
            if want_states:
                states.append(h)
        h = self.norm(h)
        if want_states:
            states[-1] = h
        return h, states

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        output_hidden_states: bool = False,
        **_: Any,
    ) -> EvoOutput:
        ids, shifts = align_left(input_ids, attention_mask)
        h, states = self._run(ids, None, False, output_hidden_states)
        logits = (h @ self.unembed.weight.T).float()
        loss = None
        if labels is not None:  # next-token loss; positions labelled -100 are ignored
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
        hidden = tuple(restore_alignment(x, shifts) for x in states) if output_hidden_states else None
        return EvoOutput(restore_alignment(logits, shifts), restore_alignment(h, shifts), hidden, loss)

    @torch.no_grad()
    def prefill(self, input_ids: Tensor) -> tuple[Tensor, EvoCache]:
        """Parallel forward of unpadded (batch, L) prompts; returns float32 logits (B, L, V) and the cache."""
        cache = EvoCache()
        h, _ = self._run(input_ids, cache, False, False)
        cache.offset = input_ids.shape[1]
        return (h @ self.unembed.weight.T).float(), cache

    @torch.no_grad()
    def step(self, token_ids: Tensor, cache: EvoCache) -> Tensor:
        """Feed one token per row (batch,); returns float32 logits (batch, vocab) and advances ``cache``."""
        h, _ = self._run(token_ids[:, None], cache, True, False)
        cache.offset += 1
        return (h[:, 0] @ self.unembed.weight.T).float()


@torch.no_grad()
def generate(
    model: nn.Module, input_ids: Tensor, max_new_tokens: int, sampler: Sampler | None = None
) -> Tensor:
    """Prefill, then one recurrent step per new token (see the family module's docstring)."""
    unwrap = getattr(model, "get_base_model", None)  # peft wrapper: LoRA layers live in the base model
    core = unwrap() if callable(unwrap) else model
    if not isinstance(core, StripedHyena):
        raise TypeError(f"Evo.generate needs a StripedHyena model, got {type(core).__name__}")
    pick = sampler or (lambda logits: logits.argmax(dim=-1))
    logits, cache = core.prefill(input_ids)
    out = [input_ids]
    nxt = pick(logits[:, -1]).to(input_ids.dtype)
    for i in range(max_new_tokens):
        out.append(nxt[:, None])
        if i + 1 < max_new_tokens:
            nxt = pick(core.step(nxt, cache)).to(input_ids.dtype)
    return torch.cat(out, dim=1)
