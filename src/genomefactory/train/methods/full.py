"""Full fine-tuning: every backbone parameter and the head are trained."""

from __future__ import annotations

from typing import Any

from ...models.registry import Backbone
from ..heads import TaskModel, mlp_head


def build(backbone: Backbone, method: Any, task_type: str, num_labels: int) -> TaskModel:
    pooling = method.pooling or backbone.family.pooling
    head = mlp_head(backbone.hidden_size, [], num_labels, method.head_dropout, "relu")
    model = TaskModel(backbone.family, backbone.base, head, pooling, task_type, num_labels)
    for p in model.parameters():
        p.requires_grad_(True)
    return model
