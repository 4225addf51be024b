"""Nucleotide Transformer v1: the native ESM spec (absolute positions, GELU feed-forward with bias) and the 6-mer
tokenizer shared with v2; the family spec is in ``models/families/nucleotide_transformer.py``, the ESM module in
``layers/esm.py``. Shapes: (batch, length) ids, right padding; (batch, length, hidden) states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerFast

from ..layers.esm import EsmSpec
from ..tokenizers import kmer_tokenizer
from ..weights import CheckpointError

__all__ = ["esm_tokenizer", "nt_v1_spec"]


def esm_tokenizer(directory: Path | None, order: str, max_tokens: int) -> PreTrainedTokenizerFast:
    """The 6-mer tokenizer; with a checkpoint directory its ``vocab.txt`` must agree with ``order``."""
    tok = kmer_tokenizer(order, model_max_length=max_tokens)
    if directory is not None and (directory / "vocab.txt").is_file():
        published = [t.strip() for t in (directory / "vocab.txt").read_text().splitlines() if t.strip()]
        ours = sorted(tok.get_vocab(), key=tok.get_vocab().__getitem__)
        if published[: len(ours)] != ours[: len(published)]:
            raise CheckpointError(f"{directory}/vocab.txt does not follow the NT {order} id order")
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
