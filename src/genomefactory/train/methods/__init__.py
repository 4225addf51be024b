"""Fine-tuning methods, one file each (``full.py``, ``lora.py``, ``adapter.py``), registered in ``registry.py``.

``build_task_model(backbone, method_cfg, task_type, num_labels)`` asks the registered method named
``method_cfg.name`` to build the task model. Importing this package does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import (
    METHODS,
    TuningMethod,
    get_method,
    method_names,
    published_backbone,
    register_method,
)

if TYPE_CHECKING:
    from ...models.registry import Backbone
    from ..heads import TaskModel

__all__ = [
    "METHODS",
    "TuningMethod",
    "build_task_model",
    "count_parameters",
    "get_method",
    "method_names",
    "published_backbone",
    "register_method",
]


def build_task_model(backbone: Backbone, method: Any, task_type: str, num_labels: int) -> TaskModel:
    return get_method(method.name).build(backbone, method, task_type, num_labels)


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
