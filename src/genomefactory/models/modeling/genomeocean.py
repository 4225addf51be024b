"""GenomeOcean: transformers' native ``MistralForCausalLM`` and the checkpoint's BPE tokenizer (left padding); the
family spec is in ``models/families/genomeocean.py``. Shapes: (batch, length) ids, (batch, length, hidden) states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn
from transformers import MistralConfig, MistralForCausalLM

from ..tokenizers import bpe_tokenizer, from_directory

__all__ = ["build_mistral", "genomeocean_tokenizer"]


def build_mistral(config: dict[str, Any]) -> nn.Module:
    cfg = MistralConfig(
        **{k: v for k, v in config.items() if k not in ("architectures", "transformers_version")}
    )
    cfg._attn_implementation = "sdpa"
    return MistralForCausalLM(cfg)


def genomeocean_tokenizer(directory: Path | None, vocab_size: int, max_len: int, specials: list[str]) -> Any:
    """The checkpoint's ``tokenizer.json`` through ``PreTrainedTokenizerFast``, or a seeded tiny BPE."""
    if directory is not None:
        tok = from_directory(directory, padding_side="left")
    else:
        tok = bpe_tokenizer(
            vocab_size, specials, cls=None, sep=None, seed=0, model_max_length=max_len, padding_side="left"
        )
    if tok.pad_token is None:
        tok.pad_token = "[PAD]"
    if tok.eos_token is None:
        tok.eos_token = "[SEP]"
    return tok
