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

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerFast

from ..layers.esm import EsmForMaskedLM, EsmSpec, remap_esm_state
from ..registry import ModelFamily, register
from ..tokenizers import kmer_tokenizer

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


def esm_tokenizer(directory: Path | None, order: str, max_tokens: int) -> PreTrainedTokenizerFast:
    """The 6-mer tokenizer; with a checkpoint directory its ``vocab.txt`` must agree with ``order``."""
    tok = kmer_tokenizer(order, model_max_length=max_tokens)
    if directory is not None and (directory / "vocab.txt").is_file():
        published = [t.strip() for t in (directory / "vocab.txt").read_text().splitlines() if t.strip()]
        ours = sorted(tok.get_vocab(), key=tok.get_vocab().__getitem__)
        if published[: len(ours)] != ours[: len(published)]:
            raise ValueError(f"{directory}/vocab.txt does not follow the NT {order} id order")
    return tok


def nt_v1_spec(config: dict[str, Any]) -> EsmSpec:
    """A v1 config.json dict as the native ESM spec (absolute positions, GELU feed-forward with bias)."""
    return EsmSpec.from_config(
        config,
        name="NT v1",
        position_embedding_type="absolute",
        ffn="gelu",
        ffn_bias=True,
        hint="rotary/SwiGLU checkpoints belong to the 'nucleotide_transformer_v2' family",
    )


class NucleotideTransformerV1(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
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
        if variant not in _V1:
            raise ValueError(f"unknown NT v1 variant {variant!r}; choose from {', '.join(_V1)}")
        return {**_COMMON, **_V1[variant]}

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        return esm_tokenizer(directory, "v1", self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
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
    )
)
