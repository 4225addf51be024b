"""Full fine-tuning: every backbone parameter and the head are trained; ``model/`` stores every tensor.

Shapes: token states (batch, length, hidden) -> pooled (batch, hidden) -> logits (batch, num_labels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import TuningMethod, register_method

if TYPE_CHECKING:
    from ...models.registry import Backbone
    from ..heads import TaskModel


class FullFineTuning(TuningMethod):
    name = "full"
    title = "Full"

    def build(self, backbone: Backbone, method_cfg: Any, task_type: str, num_labels: int) -> TaskModel:
        from ..heads import mlp_head
        from ..per_base import task_model_class

        pooling = method_cfg.pooling or backbone.family.pooling
        head = mlp_head(backbone.hidden_size, [], num_labels, method_cfg.head_dropout, "relu")
        model = task_model_class(task_type)(
            backbone.family, backbone.base, head, pooling, task_type, num_labels
        )
        for p in model.parameters():
            p.requires_grad_(True)
        return model


FULL = register_method(FullFineTuning())
