"""Evo-1 (Arc Institute / Together): StripedHyena, a causal decoder over bytes mixing Hyena and attention blocks.

Native re-implementation of ``togethercomputer/evo-1-{8k,131k}-base`` (load revision ``1.1_fix``) without remote
code, flash-attn or custom kernels. Parameter names are those of ``stripedhyena.model.StripedHyena``
(``embedding_layer``, ``blocks.{i}.*``, ``norm``, ``unembed``); the published files prefix them with ``backbone.``
and omit the tied ``unembed.weight``: loading strips the prefix and fills the tie, saving writes the published
layout back. See MODELS.md §2.5.

Conventions
- Tokens: one per byte (``A`` 65, ``C`` 67, ``G`` 71, ``T`` 84), no special tokens added; ``eos`` 0, ``pad`` 1.
  Batches are padded on the left and rotated so each sequence starts at position 0 before the forward pass
  (``layers.fftconv.align_left``): real tokens get exactly the hidden states of the sequence alone.
- Shapes: hidden states (batch, length, hidden). The blocks (modal Hyena filter, attention, RMSNorm, gated MLP)
  and their conventions are in ``layers/striped_hyena.py``.
- Precision: half-precision casts keep poles and residues float32, like the published loaders. Forward and
  prefill/step outputs match ``togethercomputer/stripedhyena`` to ~1e-5 in float32 (tests/models/test_evo_reference.py).

Generation API (what the inference engine calls)
- ``EVO.generate(model, input_ids, max_new_tokens, sampler=None) -> Tensor``: (batch, L) unpadded prompts →
  (batch, L + max_new_tokens); ``sampler`` maps (batch, vocab) float32 logits to (batch,) ids (default greedy).
- Lower level, on the model: ``logits, cache = model.prefill(input_ids)`` runs the parallel (FFT) forward and
  records every layer's state; ``logits = model.step(token_ids, cache)`` advances one token: hyena layers update
  their FIR state (last 2 projected inputs) and modal IIR state ``s ← p·s + x1⊙v`` in O(1) time per token;
  attention layers append to a KV cache. Step logits equal those of a full forward pass (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers.fftconv import align_left, restore_alignment
from ..layers.striped_hyena import AttentionBlock, HyenaBlock, StripedRMSNorm
from ..registry import ModelFamily, register
from ..tokenizers import byte_tokenizer

__all__ = ["EVO", "EvoCache", "EvoFamily", "EvoOutput", "StripedHyena"]

_COMMON: dict[str, Any] = dict(
    model_type="stripedhyena",
    vocab_size=512,
    hidden_size=4096,
    num_filters=4096,
    num_layers=32,
    attn_layer_idxs=[8, 16, 24],
    hyena_layer_idxs=[i for i in range(32) if i not in (8, 16, 24)],
    num_attention_heads=32,
    short_filter_length=3,
    short_filter_bias=True,
    state_size=8,
    hyena_filter_groups=1,
    eps=1e-6,
    inner_size_multiple_of=16,
    inner_mlp_size=None,
    mlp_activation="gelu",
    tie_embeddings=True,
    qkv_proj_bias=True,
    mha_out_proj_bias=True,
    proj_groups=1,
    final_norm=True,
    column_split_hyena=True,
    make_vocab_size_divisible_by=8,
    rotary_emb_base=10000,
    prefill_style="fft",
    max_seqlen=8192,
)
_VARIANTS: dict[str, dict[str, Any]] = {
    "8k": {"max_seqlen": 8192},
    "131k": {"max_seqlen": 131072, "use_interpolated_rotary_pos_emb": True, "rotary_emb_scaling_factor": 16},
}
_IGNORED = ("fftconv", "twiddle_factors")  # kernel caches some published files carry (never parameters)


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
            raise ValueError(
                f"Evo config: {key}={cfg[key]} is not supported (published Evo-1 models use {want})"
            )
    if int(cfg.get("num_filters", cfg["hidden_size"])) != int(cfg["hidden_size"]):
        raise ValueError("Evo config: num_filters must equal hidden_size (one modal filter per channel)")
    if not cfg.get("column_split_hyena", True):
        raise ValueError(
            "Evo config: column_split_hyena=false is not supported (Evo-1 checkpoints column-split)"
        )
    if int(cfg["hidden_size"]) % int(cfg["num_attention_heads"]):
        raise ValueError("Evo config: hidden_size must be divisible by num_attention_heads")


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
        # tied: the same module under the published second name, so `unembed.weight` is in our state dict
        self.unembed = self.embedding_layer if cfg.get("tie_embeddings", True) else nn.Embedding(vocab, d)
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


Sampler = Callable[[Tensor], Tensor]


class EvoFamily(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        return StripedHyena(config)

    def base(self, model: nn.Module) -> nn.Module:
        return model

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.blocks)  # type: ignore[arg-type]

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_seqlen", _COMMON["max_seqlen"]))

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_COMMON,
            "hidden_size": 32,
            "num_filters": 32,
            "num_layers": 4,
            "attn_layer_idxs": [2],
            "hyena_layer_idxs": [0, 1, 3],
            "num_attention_heads": 4,
            "state_size": 4,
            "max_seqlen": 1024,
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        if variant not in _VARIANTS:
            raise ValueError(f"unknown Evo variant {variant!r}; choose from {', '.join(_VARIANTS)}")
        return {**_COMMON, **_VARIANTS[variant]}

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        return byte_tokenizer(self.max_tokens(config))  # the published tokenizer is code; ids are byte values

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        out = {k.removeprefix("backbone."): v for k, v in state.items() if not any(x in k for x in _IGNORED)}
        own = model.state_dict()
        if "unembed.weight" in own and "unembed.weight" not in out and "embedding_layer.weight" in out:
            out["unembed.weight"] = out["embedding_layer.weight"]  # published files omit the tied copy
        return out

    def checkpoint_state(self, model: nn.Module, config: dict[str, Any]) -> dict[str, Tensor]:
        """Published layout: ``backbone.`` prefix, no ``unembed.weight`` when tied to the embedding."""
        tied = bool({**_COMMON, **config}.get("tie_embeddings", True))
        return {
            f"backbone.{k}": v for k, v in model.state_dict().items() if not (tied and k == "unembed.weight")
        }

    @torch.no_grad()
    def generate(
        self,
        model: nn.Module,
        input_ids: Tensor,
        max_new_tokens: int,
        sampler: Sampler | None = None,
    ) -> Tensor:
        """Prefill, then one recurrent step per new token (see the module docstring)."""
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


EVO = register(
    EvoFamily(
        name="evo",
        kind="decoder",
        description="Evo-1 (StripedHyena 7B: modal Hyena filters + attention, byte tokens, 8k/131k context)",
        variants={"8k": "togethercomputer/evo-1-8k-base", "131k": "togethercomputer/evo-1-131k-base"},
        default_variant="131k",
        lora_targets=("Wqkv",),
        in_out_proj=("Wqkv", "inner_mha_cls.out_proj", "projections", "out_filter_dense"),
        pooling="mean",
        padding_side="left",
        aliases=("EVO", "evo1", "evo-1", "stripedhyena"),
        extras={"revision": "1.1_fix"},
    )
)
