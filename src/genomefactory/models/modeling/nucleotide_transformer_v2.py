"""Nucleotide Transformer v2: the native ESM spec (rotary positions, bias-free SwiGLU); the family spec and math are
in ``models/families/nucleotide_transformer_v2.py``, the ESM module in ``layers/esm.py``.
Shapes: (batch, length) ids, right padding; (batch, length, hidden) states.
"""

from __future__ import annotations

from typing import Any

from ..layers.esm import EsmForMaskedLM, EsmModel, EsmSpec

__all__ = ["NtV2ForMaskedLM", "NtV2Model", "nt_v2_spec"]

NtV2ForMaskedLM = EsmForMaskedLM  # names kept from before the module was shared with v1
NtV2Model = EsmModel


def nt_v2_spec(config: dict[str, Any]) -> EsmSpec:
    """A v2 config.json dict as the native ESM spec (rotary positions, SwiGLU feed-forward)."""
    return EsmSpec.from_config(
        config,
        name="NT-v2",
        position_embedding_type="rotary",
        ffn="swiglu",
        ffn_bias=bool(config.get("add_bias_fnn", False)),
        hint="NT v1 checkpoints belong to the 'nucleotide_transformer' family",
    )
