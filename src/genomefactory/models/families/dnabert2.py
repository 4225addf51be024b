"""DNABERT-2 (Zhou et al. 2024): a post-LN BERT encoder with ALiBi, fused QKV and a gated-GELU MLP, on DNA BPE.

Implemented natively so the published ``zhihan1996/DNABERT-2-117M`` weights load with current libraries and no
downloaded code (its remote code breaks on transformers >= 4.30 and with modern triton; MODELS.md §2.2).
Parameter names equal the published ``BertForMaskedLM`` state dict (``bert.*``, ``cls.predictions.*``).

Math per layer (post-LN): ``x = LN(x + Dense(Attn(x)))`` with scores ``q·k/√d - m_h|i-j|`` (ALiBi, no position
embeddings) plus a key-padding mask; ``x = LN(x + W_o(GELU(g) ⊙ u))`` where ``[g | u] = W_gl x`` (no bias).
Attention runs through ``scaled_dot_product_attention`` on the padded batch (``attn_path = "padded"``, the
default); that is exactly what the published unpadded kernels compute for the real tokens. ``attn_path =
"packed"`` (:mod:`genomefactory.models.layers.varlen`) runs every layer on the real tokens only, with per-sequence
ALiBi and no cross-sequence attention (flash-attn varlen on CUDA when installed); the two paths agree to float
rounding.

Shapes: ``input_ids``/``attention_mask`` (batch, length), hidden states (batch, length, hidden). Batches are
padded on the right; as in the published model, hidden states are exactly zero at padded positions.
MLM loss as published: only positions whose label is > 0 are scored (so -100 and also 0 = [UNK] are skipped).
Tokenizer: BPE (``[UNK]0 [CLS]1 [SEP]2 [PAD]3 [MASK]4``, ``[CLS] A [SEP]`` and ``[CLS] A [SEP] B [SEP]`` with B's
token type 1; only A/C/G/T are single tokens, so N, lowercase and IUPAC codes are one [UNK] per character), read
from the checkpoint's ``tokenizer.json``; tiny models train one of the same layout on seeded random DNA.

Cross-checked numerically against the published ``bert_layers.py`` (PyTorch attention path) and tokenizer:
``tests/models/test_dnabert2_reference.py`` (fp32 max |diff| < 1e-6, fp64 ~1e-15).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import ModelFamily, register

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["DNABERT2", "DnaBert2Family"]

_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
# Published values (MODELS.md §2.2). The hub's config.json (revision of 2024-02-22 on; the first upload also said
# model_type "bert") names its classes only through auto_map, and its configuration_bert.BertConfig derives from
# PretrainedConfig, so the one field the file omits, pad_token_id, is None there: no padding_idx in the word
# embeddings (the first upload derived from BertConfig and got 0). Forward outputs are the same either way; only
# the gradient of the [UNK] row (id 0) differs.
_PUBLISHED: dict[str, Any] = dict(
    vocab_size=4096,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
    alibi_starting_size=512,
    type_vocab_size=2,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.0,
    layer_norm_eps=1e-12,
    pad_token_id=None,
    initializer_range=0.02,
)


class DnaBert2Family(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from ..modeling.dnabert2 import Dnabert2Config, Dnabert2ForMaskedLM

        return Dnabert2ForMaskedLM(Dnabert2Config.from_dict(config))

    def base(self, model: nn.Module) -> nn.Module:
        return model.bert  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        return list(base.encoder.layer)  # type: ignore[union-attr,arg-type]

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_PUBLISHED,
            "vocab_size": 256,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 256,
            "alibi_starting_size": 256,
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        self._check_variant(variant, self.variants)
        return dict(_PUBLISHED)

    def claims(self, config: Mapping[str, Any], files: set[str]) -> int:
        # the hub config.json has no model_type (only auto_map -> bert_layers.*); ALiBi's table size is a key no
        # other family's config carries, so genomefactory's own saves (no auto_map) are recognised too
        return super().claims(config, files) or (5 if "alibi_starting_size" in config else 0)

    def read_config(self, directory: Path) -> dict[str, Any]:
        from ..modeling.dnabert2 import Dnabert2Config

        raw = super().read_config(directory)
        # keep only our fields: the published file also carries BERT-isms (position_embedding_type, use_cache, ...)
        # that bert_layers.py never reads
        config = {k: v for k, v in raw.items() if k in Dnabert2Config.__dataclass_fields__}
        return asdict(Dnabert2Config.from_dict(config))

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from ..modeling.dnabert2 import dnabert2_tokenizer

        return dnabert2_tokenizer(directory, int(config["vocab_size"]), self.max_tokens(config))

    def remap_state_dict(self, state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
        from ..modeling.dnabert2 import tie_decoder

        return tie_decoder(state)


DNABERT2 = register(
    DnaBert2Family(
        name="dnabert2",
        kind="encoder",
        description="DNABERT-2 (BERT with ALiBi and gated-GELU MLP, DNA BPE 4096)",
        variants={"117M": "zhihan1996/DNABERT-2-117M"},
        default_variant="117M",
        # appendix C's words (feed-forward layers); the paper's Table 2 count = target_modules: all (test_lora_table2_counts)
        lora_targets=("gated_layers", "wo"),
        in_out_proj=("Wqkv", "attention.output.dense"),
        pooling="mean",
        aliases=("DNABERT-2", "dnabert_2"),
        tokenizer_kind="bpe",
        mask_token="[MASK]",
        checkpoint_classes=("bert_layers.",),
    )
)
