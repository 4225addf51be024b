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

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import ModelFamily, register

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ..family import Sampler

__all__ = ["EVO", "EvoFamily"]

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


class EvoFamily(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from ..modeling.evo import StripedHyena

        return StripedHyena(config)

    def base(self, model: nn.Module) -> nn.Module:
        return model

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.blocks)  # type: ignore[arg-type]

    def fp32_modules(self, base: nn.Module) -> list[nn.Module]:
        """The modal filters (poles, residues): float32 under mixed precision, as the published loaders keep
        them (``layers/striped_hyena.ModalFilter._apply``)."""
        from ..layers.striped_hyena import ModalFilter

        return [m for m in base.modules() if isinstance(m, ModalFilter)]

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
        self._check_variant(variant, _VARIANTS)
        return {**_COMMON, **_VARIANTS[variant]}

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from ..tokenizers import byte_tokenizer

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

    def generate(
        self, model: nn.Module, input_ids: Tensor, max_new_tokens: int, sampler: Sampler | None = None
    ) -> Tensor:
        """Prefill, then one recurrent step per new token (see the module docstring)."""
        from ..modeling.evo import generate

        return generate(model, input_ids, max_new_tokens, sampler)


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
        hub_revision="1.1_fix",
        tokenizer_kind="char",
        checkpoint_model_types=("stripedhyena",),
        checkpoint_classes=("StripedHyena",),
    )
)
