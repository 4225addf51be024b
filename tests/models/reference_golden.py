"""Shared loader of the golden reference fixtures (tests/models/golden/<family>.safetensors).

A fixture holds tensors (the published-layout weights under ``weight.<key>``, plus inputs and the reference
implementation's outputs) and metadata (the model config as JSON under ``config``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from genomefactory.models.registry import ModelFamily
from genomefactory.models.weights import strict_load


def load_golden(
    path: Path, fam: ModelFamily
) -> tuple[torch.nn.Module, dict[str, torch.Tensor], dict[str, Any]]:
    """(our model in eval mode with the fixture's weights loaded strictly, all tensors, metadata)."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    model = fam.build(json.loads(meta["config"])).eval()
    published = {k.removeprefix("weight."): v for k, v in tensors.items() if k.startswith("weight.")}
    strict_load(model, fam.remap_state_dict(published, model), str(path))
    return model, tensors, meta
