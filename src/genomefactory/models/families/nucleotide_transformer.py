"""Nucleotide Transformer v1 (InstaDeep): plain ESM encoder, absolute positions, GELU FFN with bias.

The v1 checkpoints are ``model_type: esm`` (transformers' native ``EsmForMaskedLM`` layout). We run them on our
own ESM module (:mod:`genomefactory.models.layers.esm`, shared with NT v2) with the same parameter names, so the
published files load strictly and the model gets the padding-free packed attention path (``attn_path``).
Math: learned absolute positions added to the token embeddings, ids by ESM's convention (``pad_token_id + 1 + i``
for the i-th real token of a right-padded row; see the esm module); pre-LN layers with an erf-GELU feed-forward
with bias (H→I→H); final ``emb_layer_norm_after``; LM head dense → GELU → LN → decoder + bias.
Tokenizer: non-overlapping 6-mers from the left of each A/C/G/T run, leftovers and N as single bases,
``<cls>`` prepended, no ``<eos>``; the **v1 id order** (``<unk> <pad> <mask> <cls>``, k-mers 4..4099,
``A T C G N`` 4100..4104, ``<eos> <bos>``). The model's vocabulary is 4105 (the last two ids are never fed).
Input length: 1000 tokens (~6 kb) for v1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..family import class_refs
from ..registry import ModelFamily, register

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["NT_V1", "NucleotideTransformerV1", "is_nt_v2_config"]

_V1 = {
    "500m-human-ref": dict(
        hidden_size=1280, num_hidden_layers=24, num_attention_heads=20, intermediate_size=5120
    ),
    "500m-1000g": dict(
        hidden_size=1280, num_hidden_layers=24, num_attention_heads=20, intermediate_size=5120
    ),
    "2.5b-1000g": dict(
        hidden_size=2560, num_hidden_layers=32, num_attention_heads=40, intermediate_size=10240
    ),
    "2.5b-multi-species": dict(
        hidden_size=2560, num_hidden_layers=32, num_attention_heads=40, intermediate_size=10240
    ),
}

_COMMON = dict(
    model_type="esm",
    vocab_size=4105,
    max_position_embeddings=1002,
    position_embedding_type="absolute",
    pad_token_id=1,
    mask_token_id=2,
    emb_layer_norm_before=False,
    token_dropout=False,
    layer_norm_eps=1e-12,
    hidden_act="gelu",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    tie_word_embeddings=False,
    is_folding_model=False,
)


def is_nt_v2_config(config: Mapping[str, Any]) -> bool:
    """An ESM config.json of NT v2: the bias-free SwiGLU flag (``add_bias_fnn: false``) or the remote-code
    classes the hub repos name (``esm_config.EsmConfig``, ``modeling_esm.*``)."""
    refs = class_refs(config)
    remote = any(r.startswith(("esm_config.", "modeling_esm.")) for r in refs)
    return config.get("model_type") == "esm" and (config.get("add_bias_fnn") is False or remote)


class NucleotideTransformerV1(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from ..layers.esm import EsmForMaskedLM
        from ..modeling.nucleotide_transformer import nt_v1_spec

        return EsmForMaskedLM(nt_v1_spec(config))

    def base(self, model: nn.Module) -> nn.Module:
        return model.esm  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.encoder.layer)  # type: ignore[union-attr,arg-type]

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_position_embeddings", 1002)) - 2

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_COMMON,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 258,
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        self._check_variant(variant, _V1)
        return {**_COMMON, **_V1[variant]}

    def claims(self, config: Mapping[str, Any], files: set[str]) -> int:
        # plain ESM with learned absolute positions and the NT 6-mer vocabulary (protein ESM models have 33 ids)
        absolute = config.get("position_embedding_type", "absolute") == "absolute"
        nt_vocab = config.get("vocab_size") in (4105, 4107)
        esm = config.get("model_type") == "esm"
        return 10 if esm and absolute and nt_vocab and not is_nt_v2_config(config) else 0

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from ..modeling.nucleotide_transformer import esm_tokenizer

        return esm_tokenizer(directory, "v1", self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
        from ..layers.esm import remap_esm_state

        return remap_esm_state(state, model, "NT v1")


NT_V1 = register(
    NucleotideTransformerV1(
        name="nucleotide_transformer",
        kind="encoder",
        description="Nucleotide Transformer v1 (ESM, 6-mer tokens, absolute positions)",
        variants={v: f"InstaDeepAI/nucleotide-transformer-{v}" for v in _V1},
        default_variant="500m-human-ref",
        # appendix C's words (feed-forward layers); the paper's Table 2 count = target_modules: all (test_lora_table2_counts)
        lora_targets=("intermediate.dense", r"re:layer\.\d+\.output\.dense$"),
        in_out_proj=("query", "key", "value", "attention.output.dense"),
        pooling="mean",
        aliases=("nt", "nt_v1", "nucleotide_transformer_v1", "NucleotideTransformer"),
        tokenizer_kind="kmer",
        kmer=6,
        mask_token="<mask>",
    )
)
