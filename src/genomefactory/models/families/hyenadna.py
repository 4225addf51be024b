"""HyenaDNA (HazyResearch / LongSafari): a causal decoder of Hyena operators over single nucleotides.

Native re-implementation of the ``-hf`` checkpoints (``LongSafari/hyenadna-*-seqlen-hf``) with their published
parameter names (``hyena.backbone.*``, ``lm_head.weight``); no remote code. See MODELS.md §2.1.

Conventions
- Tokens: one per character, ids ``[CLS]0 [SEP]1 [BOS]2 [MASK]3 [PAD]4 [RESERVED]5 [UNK]6 A7 C8 G9 T10 N11``;
  the tokenizer appends ``[SEP]`` (no ``[CLS]``; a pair is ``A [SEP] B [SEP]``; ``[SEP]`` is also the eos
  token), pads on the **left**, and is case-sensitive like the published ``tokenization_hyena.py`` (lowercase
  bases are ``[UNK]``; genomefactory upper-cases sequences when it reads them). The embedding table has 16
  rows (12 padded to a multiple of 8).
- Shapes: hidden states are (batch, length, d_model); the Hyena operator works channels-first (batch, d, length).
- Length: at most ``max_seq_len`` tokens (the implicit filter's positional table, ``layers/hyena_operator.py``).
- Padding: the model is causal, so a left-padded batch is rotated to put each sequence at position 0 before the
  forward pass and rotated back afterwards (``layers.fftconv.align_left``): the hidden states of real tokens are
  exactly those of the sequence alone. The published code instead lets the pads flow into the sequence.
- ``hidden_states``: embeddings, blocks 1..n-1, final-normed output (n+1, the registry contract); the published
  code returns n+2, adding the last block's raw output before ``ln_f``. ``embed_dropout`` is never applied (as in
  the published ``-hf`` forward; the original training code dropped the embeddings).
- Pooling default ``mean``: every position of a causal model carries a prefix summary; averaging the real positions
  (the ``pool`` mode of the HyenaDNA fine-tuning recipes) is more stable than the single last token.
- Generation: no recurrent state; :meth:`HyenaDNAFamily.generate` re-runs the full causal forward per new token.

Architecture: pre-LN blocks ``h += Hyena(LN(h)); h += MLP(LN(h))`` with a GELU(tanh) MLP, then a final
LayerNorm; the order-2 Hyena operator and its implicit filter are in ``layers/hyena_operator.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import ModelFamily, register

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ..family import Sampler

__all__ = ["HYENADNA", "HyenaDNAFamily", "hyena_vocab"]

# Defaults of the published HyenaConfig class (used only for fields a config.json omits).
_DEFAULTS: dict[str, Any] = dict(
    vocab_size=12,
    d_model=256,
    d_inner=None,
    n_layer=12,
    max_seq_len=1024,
    emb_dim=3,
    filter_order=64,
    short_filter_order=3,
    hyena_order=2,
    num_inner_mlps=2,
    activation_freq=1,
    train_freq=True,
    use_bias=True,
    embed_dropout=0.1,
    hyena_dropout=0.0,
    hyena_filter_dropout=0.0,
    layer_norm_epsilon=1e-5,
    initializer_range=0.02,
    pad_vocab_size_multiple=8,
)
_PUBLISHED_COMMON: dict[str, Any] = dict(
    model_type="hyenadna",
    vocab_size=12,
    emb_dim=5,
    activation_freq=10,
    filter_order=64,
    num_inner_mlps=2,
    hyena_order=2,
    short_filter_order=3,
)
# variant -> (d_model, n_layer, context length in bases); max_seq_len = length + 2 (MODELS.md §2.1 table)
_VARIANTS: dict[str, tuple[int, int, int]] = {
    "tiny-1k": (128, 2, 1024),
    "tiny-1k-d256": (256, 2, 1024),
    "tiny-16k": (128, 2, 16384),
    "small-32k": (256, 4, 32768),
    "medium-160k": (256, 8, 160000),
    "medium-450k": (256, 8, 450000),
    "large-1m": (256, 8, 1000000),
}
_HUB = {
    "tiny-1k": "tiny-1k-seqlen",
    "tiny-1k-d256": "tiny-1k-seqlen-d256",
    "tiny-16k": "tiny-16k-seqlen-d128",
    "small-32k": "small-32k-seqlen",
    "medium-160k": "medium-160k-seqlen",
    "medium-450k": "medium-450k-seqlen",
    "large-1m": "large-1m-seqlen",
}
_SHARED_FREQ = re.compile(r"(.*\.implicit_filter\.)([35])\.freq$")


def hyena_vocab() -> dict[str, int]:
    tokens = ["[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N"]
    return {t: i for i, t in enumerate(tokens)}


class HyenaDNAFamily(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from ..modeling.hyenadna import HyenaDNAForCausalLM

        return HyenaDNAForCausalLM(config)

    def base(self, model: nn.Module) -> nn.Module:
        return model.hyena  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.backbone.layers)  # type: ignore[union-attr,arg-type]

    def hidden_size(self, config: dict[str, Any]) -> int:
        return int(config.get("d_model", _DEFAULTS["d_model"]))

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_seq_len", _DEFAULTS["max_seq_len"]))

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_PUBLISHED_COMMON,
            "d_model": 32,
            "n_layer": 2,
            "d_inner": 128,
            "max_seq_len": 1026,
            "filter_order": 16,
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        self._check_variant(variant, _VARIANTS)
        d, n, length = _VARIANTS[variant]
        return {**_PUBLISHED_COMMON, "d_model": d, "n_layer": n, "d_inner": 4 * d, "max_seq_len": length + 2}

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from ..modeling.hyenadna import hyena_tokenizer

        # the published tokenizer is remote code; its vocabulary is fixed, so it is rebuilt here offline
        return hyena_tokenizer(self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        # the checkpoint stores the shared activation frequency once, under slot 1; our state dict names all three
        out = dict(state)
        for key in model.state_dict():
            m = _SHARED_FREQ.match(key)
            if m and key not in out and f"{m.group(1)}1.freq" in out:
                out[key] = out[f"{m.group(1)}1.freq"]
        return out

    def checkpoint_state(self, model: nn.Module, config: dict[str, Any]) -> dict[str, Tensor]:
        # published layout: the shared freq only under slot 1 (safetensors refuses aliased tensors)
        return {k: v for k, v in model.state_dict().items() if not _SHARED_FREQ.match(k)}

    def generate(
        self, model: nn.Module, input_ids: Tensor, max_new_tokens: int, sampler: Sampler | None = None
    ) -> Tensor:
        """Full causal re-forward per new token (no recurrent state); see ``modeling.hyenadna.generate``."""
        from ..modeling.hyenadna import generate

        return generate(model, input_ids, max_new_tokens, sampler)


HYENADNA = register(
    HyenaDNAFamily(
        name="hyenadna",
        kind="decoder",
        description="HyenaDNA (implicit long convolutions, single-nucleotide tokens, 1k-1M context)",
        variants={v: f"LongSafari/hyenadna-{h}-hf" for v, h in _HUB.items()},
        default_variant="medium-160k",
        lora_targets=("mixer.in_proj", "mixer.out_proj"),
        in_out_proj=("mixer.in_proj", "mixer.out_proj"),
        pooling="mean",
        padding_side="left",
        aliases=("HyenaDNA", "hyena_dna", "hyena"),
        tokenizer_kind="char",
        checkpoint_model_types=("hyenadna",),
        checkpoint_classes=("HyenaDNA",),
    )
)
