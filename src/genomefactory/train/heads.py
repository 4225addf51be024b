"""Task heads and the task model (backbone + mask-aware pooling + head).

Shapes: token states (batch, length, hidden); pooled features (batch, hidden); logits (batch, num_labels)
(num_labels = 1 for regression). The head is always trainable, whatever the method.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from ..models.pooling import pool
from ..models.registry import ModelFamily

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


def mlp_head(
    in_dim: int, hidden_sizes: list[int], out_dim: int, dropout: float, activation: str
) -> nn.Sequential:
    """Dropout -> [Linear -> act -> dropout]* -> Linear; ``hidden_sizes=[]`` gives a linear head."""
    layers: list[nn.Module] = [nn.Dropout(dropout)]
    width = in_dim
    for h in hidden_sizes:
        layers += [nn.Linear(width, h), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class CNNHead(nn.Module):
    """1-D CNN adapter over token states: two masked convolutions, masked max+mean pooling, linear output."""

    def __init__(
        self, in_dim: int, channels: int, kernel: int, out_dim: int, dropout: float, activation: str
    ):
        super().__init__()
        self.conv1 = nn.Conv1d(in_dim, channels, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.act = _ACTIVATIONS[activation]()
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * channels, out_dim)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(1).to(hidden.dtype)  # (B, 1, L): zero padded positions before every conv
        x = hidden.transpose(1, 2) * m
        x = self.drop(self.act(self.conv1(x))) * m
        x = self.drop(self.act(self.conv2(x))) * m
        mean = x.sum(-1) / m.sum(-1).clamp(min=1)
        mx = x.masked_fill(m == 0, torch.finfo(x.dtype).min).amax(-1)
        return self.out(torch.cat([mean, mx], dim=-1))  # type: ignore[no-any-return]


def task_loss(logits: torch.Tensor, labels: torch.Tensor, task_type: str) -> torch.Tensor:
    if task_type == "regression":
        return F.mse_loss(logits.squeeze(-1).float(), labels.float())
    return F.cross_entropy(logits.float(), labels.long())


class TaskModel(nn.Module):
    """Backbone (possibly LoRA-injected or frozen) + pooling + head.

    ``forward`` accepts either token ids (``input_ids``, ``attention_mask``) or precomputed backbone features
    (``features`` pooled (B, H), or token states with ``attention_mask``) so adapter training can skip the
    frozen backbone entirely.
    """

    # The loss is a per-batch mean that ignores ``num_items_in_batch``. Without this flag the Trainer sees
    # ``**_`` in forward, assumes the model normalises by the global item count itself, and then multiplies the
    # loss by the world size under DDP (and skips the division by gradient_accumulation_steps).
    accepts_loss_kwargs = False

    def __init__(
        self,
        family: ModelFamily,
        base: nn.Module | None,
        head: nn.Module,
        pooling: str,
        task_type: str,
        num_labels: int,
        token_head: bool = False,
    ) -> None:
        super().__init__()
        self.family = family
        self.backbone = base
        self.head = head
        self.pooling = pooling
        self.task_type = task_type
        self.num_labels = num_labels
        self.token_head = token_head

    def train(self, mode: bool = True) -> TaskModel:
        # A frozen backbone (adapter tuning) stays in eval mode: its dropout must not perturb the features, so
        # training on tokens gives the same features as the cached path (computed in eval mode) and prediction.
        super().train(mode)
        if self.backbone is not None and not any(p.requires_grad for p in self.backbone.parameters()):
            self.backbone.eval()
        return self

    def backbone_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.backbone is None:
            raise RuntimeError("this task model was built without a backbone (cached-feature training)")
        out = self.family.encode(self.backbone, input_ids, attention_mask)
        return out.last_hidden_state  # type: ignore[no-any-return]

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return pool(self.backbone_states(input_ids, attention_mask), attention_mask, self.pooling)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        **_: Any,
    ) -> SequenceClassifierOutput:
        if features is None:
            if input_ids is None:
                raise ValueError("TaskModel needs input_ids or features")
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            states = self.backbone_states(input_ids, attention_mask)
            features = states if self.token_head else pool(states, attention_mask, self.pooling)
        head_dtype = next(self.head.parameters()).dtype
        features = features.to(head_dtype)
        if self.token_head:
            assert attention_mask is not None
            logits = self.head(features, attention_mask)
        else:
            logits = self.head(features)
        loss = task_loss(logits, labels, self.task_type) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
