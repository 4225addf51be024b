"""GenomeOcean (DOE JGI): a Mistral decoder with a 4096-token DNA BPE vocabulary (~5 bp per token).

Loaded into transformers' native ``MistralForCausalLM`` (the published repos dropped their vendored modeling code
in 2026; see MODELS.md §2.6); the tokenizer is the checkpoint's ``tokenizer.json`` through
``PreTrainedTokenizerFast`` (``AutoTokenizer`` may pick a non-DNA backend under transformers 5).
Batches are left-padded; position ids are derived from the attention mask so a padded sequence gets the same
hidden states as the sequence alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import ModelFamily, register

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["GENOMEOCEAN", "GenomeOcean"]

_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
_COMMON = dict(
    model_type="mistral",
    vocab_size=4096,
    hidden_act="silu",
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    sliding_window=None,
    tie_word_embeddings=False,
    pad_token_id=3,
    bos_token_id=1,
    eos_token_id=2,
    attention_dropout=0.0,
)
# 100M from the published description (12 layers, hidden 768, head_dim 96, 1024 tokens): with a 9-class head it has
# exactly the paper's Table 2 trainable count (116.42M). 500M is inferred, not read from a checkpoint: the 100M shape
# rules (head_dim 96, MLP 4x hidden, full KV heads) at hidden 1536 x 14 layers give the paper's Table 3 count
# (534.83M). 4B: head_dim 128 and 10,240 tokens are published, the rest is an estimate. A pretrained load always
# reads the checkpoint's own config.json; these only size random-init models and benchmarks.
_SIZES = {
    "100M": dict(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=8,
        num_key_value_heads=8,
        intermediate_size=3072,
        max_position_embeddings=1024,
        head_dim=96,
    ),
    "500M": dict(
        hidden_size=1536,
        num_hidden_layers=14,
        num_attention_heads=16,
        num_key_value_heads=16,
        intermediate_size=6144,
        max_position_embeddings=1024,
        head_dim=96,
    ),
    "4B": dict(
        hidden_size=3072,
        num_hidden_layers=32,
        num_attention_heads=24,
        num_key_value_heads=8,
        intermediate_size=8192,
        max_position_embeddings=10240,
        head_dim=128,
    ),
}


class GenomeOcean(ModelFamily):
    def build(self, config: dict[str, Any]) -> nn.Module:
        from ..modeling.genomeocean import build_mistral

        return build_mistral(config)

    def base(self, model: nn.Module) -> nn.Module:
        return model.model  # type: ignore[return-value]

    def blocks(self, base: nn.Module) -> list[nn.Module]:
        # decoder layers; checkpointing itself goes through transformers' own (it also switches the KV cache off)
        return list(base.layers)  # type: ignore[arg-type]

    def encode(
        self,
        base: nn.Module,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        output_hidden_states: bool = False,
    ) -> Any:
        position_ids = None
        if attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        return base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            output_hidden_states=output_hidden_states,
        )

    def max_tokens(self, config: dict[str, Any]) -> int:
        return int(config.get("max_position_embeddings", 1024))

    def tiny_config(self) -> dict[str, Any]:
        return {
            **_COMMON,
            "vocab_size": 256,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 512,
            "head_dim": 8,
        }

    def published_config(self, variant: str) -> dict[str, Any]:
        self._check_variant(variant, _SIZES)
        return {**_COMMON, **_SIZES[variant]}

    def tokenizer(self, directory: Path | None, config: dict[str, Any]) -> Any:
        from ..modeling.genomeocean import genomeocean_tokenizer

        return genomeocean_tokenizer(directory, int(config["vocab_size"]), self.max_tokens(config), _SPECIALS)


GENOMEOCEAN = register(
    GenomeOcean(
        name="genomeocean",
        kind="decoder",
        description="GenomeOcean (Mistral decoder, DNA BPE 4096)",
        variants={v: f"pGenomeOcean/GenomeOcean-{v}" for v in _SIZES},
        default_variant="100M",
        lora_targets=("gate_proj", "up_proj", "down_proj"),
        in_out_proj=("q_proj", "k_proj", "v_proj", "o_proj"),
        pooling="mean",
        padding_side="left",
        aliases=("genome_ocean", "GenomeOcean"),
        tokenizer_kind="bpe",
        # the published configs are plain Mistral (the vendored modeling_mistral.py + auto_map were removed)
        checkpoint_model_types=("mistral",),
    )
)
