"""Adapter tuning: the backbone is frozen; an MLP (on pooled features) or a 1-D CNN (on token states) is trained.

Frozen-backbone features are computed once per (model, dataset) and cached on disk (``train/features.py``), so
epochs after the first — and later runs on the same data — cost only the head. Shapes: pooled features
(batch, hidden) for the MLP, token states (batch, length, hidden) with their mask for the CNN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ...config import OutPath, StrictConfig
from .registry import TuningMethod, published_backbone, register_method

if TYPE_CHECKING:
    from ...models.registry import Backbone
    from ..heads import TaskModel

__all__ = ["ADAPTER", "AdapterConfig", "AdapterTuning"]


class AdapterConfig(StrictConfig):
    kind: Literal["mlp", "cnn"] = Field(
        "mlp", description="mlp on pooled features, or a 1-D CNN over tokens."
    )
    hidden_sizes: list[int] = Field([256], description="Hidden layer widths of the MLP (depth = length).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout between adapter layers.")
    activation: Literal["relu", "gelu", "tanh", "silu"] = Field("relu", description="Adapter activation.")
    cnn_channels: int = Field(128, ge=1, description="CNN adapter: channels of each convolution.")
    cnn_kernel_size: int = Field(9, ge=1, description="CNN adapter: kernel width in tokens.")
    cache_features: bool = Field(
        True,
        description="Compute the frozen backbone's features once per (model, dataset) and cache on disk.",
    )
    cache_dir: OutPath | None = Field(
        None, description="Feature cache folder; default $GENOMEFACTORY_CACHE or ~/.cache/genomefactory."
    )


class AdapterTuning(TuningMethod):
    name = "adapter"
    title = "Adapter"
    config_class = AdapterConfig
    section_help = "Adapter settings."
    supports_checkpointing = False
    # the frozen backbone keeps no activations for backward (and with cached features it does not run at all)
    checkpointing_note = "the frozen backbone stores no activations for backward"

    def build(self, backbone: Backbone, method_cfg: Any, task_type: str, num_labels: int) -> TaskModel:
        from ..heads import CNNHead, mlp_head
        from ..per_base import PerTokenCNNHead, task_model_class
        from ..task_types import is_per_base

        cfg: AdapterConfig = self.settings(method_cfg)
        pooling = method_cfg.pooling or backbone.family.pooling
        base = backbone.base
        for p in base.parameters():
            p.requires_grad_(False)
        head: Any
        if cfg.kind == "cnn":
            # per-base tasks keep one output per token: the same convolutions without the pooling
            cnn = PerTokenCNNHead if is_per_base(task_type) else CNNHead
            head = cnn(
                backbone.hidden_size,
                cfg.cnn_channels,
                cfg.cnn_kernel_size,
                num_labels,
                cfg.dropout,
                cfg.activation,
            )
        else:
            head = mlp_head(
                backbone.hidden_size, list(cfg.hidden_sizes), num_labels, cfg.dropout, cfg.activation
            )
        return task_model_class(task_type)(
            backbone.family, base, head, pooling, task_type, num_labels, token_head=cfg.kind == "cnn"
        )

    def saves_full_backbone(self, method_cfg: Any, backbone: Backbone, model_cfg: Any) -> bool:
        return not published_backbone(backbone, model_cfg)  # the backbone did not change

    def uses_feature_cache(self, method_cfg: Any) -> bool:
        return bool(self.settings(method_cfg).cache_features)

    def feature_mode(self, method_cfg: Any, pooling: str) -> str:
        return "token" if self.settings(method_cfg).kind == "cnn" else pooling

    def feature_cache_dir(self, method_cfg: Any) -> str | None:
        return self.settings(method_cfg).cache_dir  # type: ignore[no-any-return]


ADAPTER = register_method(AdapterTuning())
