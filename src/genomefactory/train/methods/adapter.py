"""Adapter tuning: the backbone is frozen; an MLP (on pooled features) or a 1-D CNN (on token states) is trained.

Frozen-backbone features are computed once per (model, dataset) and cached on disk (``train/features.py``), so
epochs after the first — and later runs on the same data — cost only the head.
"""

from __future__ import annotations

from typing import Any

from ...models.registry import Backbone
from ..heads import CNNHead, TaskModel, mlp_head


def build(backbone: Backbone, method: Any, task_type: str, num_labels: int) -> TaskModel:
    cfg = method.adapter
    pooling = method.pooling or backbone.family.pooling
    base = backbone.base
    for p in base.parameters():
        p.requires_grad_(False)
    if cfg.kind == "cnn":
        head: Any = CNNHead(
            backbone.hidden_size,
            cfg.cnn_channels,
            cfg.cnn_kernel_size,
            num_labels,
            cfg.dropout,
            cfg.activation,
        )
    else:
        head = mlp_head(backbone.hidden_size, list(cfg.hidden_sizes), num_labels, cfg.dropout, cfg.activation)
    model = TaskModel(
        backbone.family, base, head, pooling, task_type, num_labels, token_head=cfg.kind == "cnn"
    )
    return model
