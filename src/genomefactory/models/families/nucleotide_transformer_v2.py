"""Nucleotide Transformer v2 (InstaDeep; 50M/100M/250M/500M): ESM encoder with rotary positions and SwiGLU.

Implemented natively (:mod:`genomefactory.models.layers.esm`, shared with NT v1): the published checkpoints need
remote code that no longer imports on transformers 5, and native ``EsmForMaskedLM`` cannot hold their bias-free
SwiGLU feed-forward (MODELS.md §2.4). Parameter names equal the published ``EsmForMaskedLM`` state dict
(``esm.*``, ``lm_head.*``), including the absolute position table ``esm.embeddings.position_embeddings`` that v2
stores but never uses (kept so checkpoints load strictly and the parameter count matches the published 55,904,972
for 50M) and the per-layer rotary ``inv_freq`` buffers.

Math (pre-LN): ``x = x + O(Attn(LN(x)))`` with q scaled by 1/√d *before* rotary (rotate-half, base 10000, full
head dim) and a key-padding mask; ``x = x + W_o(SiLU(x₁) ⊙ x₂)`` where ``[x₁ | x₂] = W_i LN(x)`` (no biases); a
final ``emb_layer_norm_after``. Embeddings are multiplied by the attention mask. LM head: dense → GELU → LN →
decoder + bias.

Checked numerically against a rebuild of the hub ``modeling_esm.py`` (transformers 4.32 ESM + the SwiGLU edits) and
tokenizer: ``tests/models/test_nt_v2_reference.py``.

Shapes: ``input_ids``/``attention_mask`` (batch, length), hidden states (batch, length, hidden); batches are
padded on the right (positions are 0..L-1, so padding never shifts a real token). ``attn_path = "packed"`` on
the encoder runs the layers on real tokens only (:mod:`genomefactory.models.layers.varlen`): rotary positions
restart at 0 in every sequence and no token attends across sequences; it equals the padded path to float
rounding. Tokenizer: non-overlapping 6-mers from the left of every A/C/G/T run, leftovers and N as single bases,
a run of other IUPAC codes as one ``<unk>`` (as the published ``EsmTokenizer``), ``<cls>`` prepended, no
``<eos>``, **v2 id order** (``<unk>0 <pad>1 <mask>2 <cls>3 <eos>4 <bos>5``, k-mers 6..4101,
``A T C G N`` 4102..4106).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import ModelFamily, register
from .nucleotide_transformer import is_nt_v2_config

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["NT_V2", "NucleotideTransformerV2"]

_COMMON: dict[str, Any] = dict(
    model_type="esm",
    architectures=["EsmForMaskedLM"],
    vocab_size=4107,
    max_position_embeddings=2050,
    position_embedding_type="rotary",
    add_bias_fnn=False,
    emb_layer_norm_before=False,
    token_dropout=False,
    layer_norm_eps=1e-12,
    pad_token_id=1,
    mask_token_id=2,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    tie_word_embeddings=False,
    initializer_range=0.02,
)
# from the published config.json files (a pretrained load always reads the checkpoint's own)
_SIZES = {
    "50m": dict(hidden_size=512, num_hidden_layers=12, num_attention_heads=16, intermediate_size=2048),
    "100m": dict(hidden_size=512, num_hidden_layers=22, num_attention_heads=16, intermediate_size=2048),
    "250m": dict(hidden_size=768, num_hidden_layers=24, num_attention_heads=16, intermediate_size=3072),
    "500m": dict(hidden_size=1024, num_hidden_layers=29, num_attention_heads=16, intermediate_size=4096),
}


class NucleotideTransformerV2(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from ..layers.esm import EsmForMaskedLM
        from ..modeling.nucleotide_transformer_v2 import nt_v2_spec

        return EsmForMaskedLM(nt_v2_spec(config))

    def base(self, model: nn.Module) -> nn.Module:
        return model.esm  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.encoder.layer)  # type: ignore[union-attr,arg-type]

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_position_embeddings", 2050)) - 2

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
        self._check_variant(variant, _SIZES)
        return {**_COMMON, **_SIZES[variant]}

    def claims(self, config: Mapping[str, Any], files: set[str]) -> int:
        return 10 if is_nt_v2_config(config) else 0

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from ..modeling.nucleotide_transformer import esm_tokenizer

        return esm_tokenizer(directory, "v2", self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        from ..layers.esm import remap_esm_state

        return remap_esm_state(state, model, "NT-v2")


NT_V2 = register(
    NucleotideTransformerV2(
        name="nucleotide_transformer_v2",
        kind="encoder",
        description="Nucleotide Transformer v2 (ESM, rotary, SwiGLU, 6-mer tokens)",
        variants={v: f"InstaDeepAI/nucleotide-transformer-v2-{v}-multi-species" for v in _SIZES},
        default_variant="50m",
        # appendix C's words (feed-forward layers); the paper's Table 2 count = target_modules: all (test_lora_table2_counts)
        lora_targets=("intermediate.dense", r"re:layer\.\d+\.output\.dense$"),
        in_out_proj=("query", "key", "value", "attention.output.dense"),
        pooling="mean",
        aliases=("nt_v2", "nucleotide_transformer2"),
        tokenizer_kind="kmer",
        kmer=6,
        mask_token="<mask>",
    )
)
