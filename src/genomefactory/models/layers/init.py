"""BERT-style random initialisation shared by the native encoders (DNABERT-2, NT v1/v2)."""

from __future__ import annotations

import torch
from torch import nn


def bert_init(module: nn.Module, std: float) -> None:
    """Linear/Embedding weights ~ N(0, std), biases zero, padding embedding row zero, LayerNorm = identity."""
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
