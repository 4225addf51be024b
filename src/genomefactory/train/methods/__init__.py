"""Fine-tuning methods: each module has ``build(backbone, method_cfg, task_type, num_labels) -> TaskModel``."""

from __future__ import annotations

from typing import Any

from ...models.registry import Backbone
from ..heads import TaskModel


def build_task_model(backbone: Backbone, method: Any, task_type: str, num_labels: int) -> TaskModel:
    from . import adapter, full, lora

    builders = {"full": full.build, "lora": lora.build, "adapter": adapter.build}
    return builders[method.name](backbone, method, task_type, num_labels)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts; tensors shared between modules are counted once."""
    seen: set[int] = set()
    trainable = total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total
