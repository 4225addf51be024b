"""Per-base (token-level) tasks: token outputs mapped back to bases, the per-base task model, its data.

**Tokens -> bases.** Every family goes through the same map, built from the tokenizer's character offsets
(:class:`~genomefactory.models.encoding.BatchEncoder`): base i takes the output of the token whose offsets
cover it. For single-base tokenizers (HyenaDNA, Caduceus, Evo: ``tokenizer_kind == "char"``) that is the
base's own output, one token per base; for k-mer (Nucleotide Transformer's 6-mers) and BPE (DNABERT-2,
GenomeOcean) tokenizers, each base takes its token's output, so the bases of one token share one prediction.
Special tokens ([CLS], [SEP], <eos>) and padding cover no base and are never in the loss or the metrics.
``base_index`` (sequences, bases) holds, per base, the index of its token in the unpadded token sequence
(-1 = no token: padding of the batch). A sequence whose tokens exceed the model's maximum is cut to the bases
whose tokens fit (the bases after the cut are dropped, and the count is logged, as in sequence-level training).

Shapes: token states (batch, tokens, hidden) -> per-token logits (batch, tokens, classes) -> per-base logits
(batch, bases, classes), classes = 1 for regression. Per-base outputs are in the orientation of the input
sequence; writers turn minus-strand windows to reference orientation (``train/per_base_output.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.utils import ModelOutput

from ..models.encoding import BatchEncoder
from .heads import _ACTIVATIONS, TaskModel
from .task_types import IGNORE_CLASS, is_per_base, is_regression

__all__ = [
    "PerBaseCollator",
    "PerBaseDataset",
    "PerBaseOutput",
    "PerBaseTaskModel",
    "PerTokenCNNHead",
    "encode_per_base",
    "per_base_loss",
    "task_model_class",
]

log = logging.getLogger("genomefactory.train")


def task_model_class(task_type: str) -> type[TaskModel]:
    """The task model a tuning method builds for ``task_type`` (per-base tasks get :class:`PerBaseTaskModel`)."""
    return PerBaseTaskModel if is_per_base(task_type) else TaskModel


def _base_index(offsets: list[tuple[int, int]], special: list[int], length: int) -> np.ndarray:
    index = np.full(length, -1, dtype=np.int64)
    for t, (a, b) in enumerate(offsets):
        if not special[t] and b > a:
            index[a:b] = t
    return index


def encode_per_base(
    tokenizer: Any, sequences: list[str], max_length: int, where: str
) -> tuple[list[list[int]], list[np.ndarray], int]:
    """(token ids, base -> token index, truncated rows) per sequence, special tokens added as in training.

    A sequence with more than ``max_length`` tokens is cut after the last base whose token fits (special tokens
    kept); its ``base_index`` is then shorter than the sequence, and the bases past it are not scored.
    """
    encoder = BatchEncoder(tokenizer)
    encoded = encoder.encode(sequences)
    ids: list[list[int]] = []
    index: list[np.ndarray] = []
    truncated = 0
    for seq, (tok, offsets, special) in zip(sequences, encoded, strict=True):
        keep = len(seq)
        while len(tok) > max_length:
            room = max_length - sum(special)
            ends = [b for (_, b), sp in zip(offsets, special, strict=True) if not sp]
            keep = min(ends[room - 1] if room >= 1 else 0, keep - 1)
            if keep <= 0:
                raise ValueError(f"{where}: max_length {max_length} leaves no room for any base")
            tok, offsets, special = encoder.encode([seq[:keep]])[0]
        truncated += int(keep < len(seq))
        ids.append(tok)
        index.append(_base_index(offsets, special, keep))
    if truncated:
        log.warning(
            "%s: %d of %d sequences cut to %d tokens (their last bases are not scored)",
            where,
            truncated,
            len(sequences),
            max_length,
        )
    return ids, index, truncated


class PerBaseDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Token ids (or cached token states) + base -> token index + per-base labels, per sequence."""

    def __init__(
        self, rows: list[Any], base_index: list[np.ndarray], labels: np.ndarray | None, key: str = "input_ids"
    ) -> None:
        self.rows = rows
        self.base_index = base_index
        self.labels = labels
        self.key = key

    def __len__(self) -> int:
        return len(self.base_index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {self.key: self.rows[i], "base_index": self.base_index[i]}
        if self.labels is not None:
            item["labels"] = self.labels[i][: len(self.base_index[i])]  # a cut sequence keeps its first bases
        return item


class PerBaseCollator:
    """Pads token ids (on the tokenizer's side) or token states (on the right), ``base_index`` with -1 and labels
    with IGNORE_CLASS (classification) or NaN (regression). With left padding the token indices are shifted by
    the padding so that they still point at their tokens."""

    def __init__(self, pad_id: int, padding_side: str, regression: bool) -> None:
        self.pad_id = pad_id
        self.left = padding_side == "left"
        self.regression = regression

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        features = "features" in items[0]
        lengths = [len(it["features"] if features else it["input_ids"]) for it in items]
        width = max(lengths)
        bases = max(len(it["base_index"]) for it in items)
        index = torch.full((len(items), bases), -1, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        batch: dict[str, torch.Tensor] = {}
        if features:
            states = torch.zeros(len(items), width, items[0]["features"].shape[1])
        else:
            ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        for row, (it, n) in enumerate(zip(items, lengths, strict=True)):
            shift = width - n if (self.left and not features) else 0
            sl = slice(shift, shift + n)
            mask[row, sl] = 1
            if features:
                states[row, :n] = it["features"].float()
            else:
                ids[row, sl] = torch.as_tensor(it["input_ids"], dtype=torch.long)
            bi = torch.as_tensor(it["base_index"], dtype=torch.long)
            index[row, : len(bi)] = torch.where(bi >= 0, bi + shift, bi)
        batch["features" if features else "input_ids"] = states if features else ids
        batch["attention_mask"] = mask
        batch["base_index"] = index
        if "labels" in items[0]:
            fill = float("nan") if self.regression else IGNORE_CLASS
            dtype = torch.float32 if self.regression else torch.long
            labels = torch.full((len(items), bases), fill, dtype=dtype)
            for row, it in enumerate(items):
                lab = torch.as_tensor(
                    np.asarray(it["labels"], dtype=np.float32 if self.regression else np.int64)
                )
                labels[row, : len(lab)] = lab
            batch["labels"] = labels
        return batch


@dataclass
class PerBaseOutput(ModelOutput):  # type: ignore[misc]
    """``logits`` (batch, bases, classes); ``base_mask`` (batch, bases): 1 where a base has an output."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    base_mask: torch.Tensor | None = None


def per_base_loss(
    logits: torch.Tensor, labels: torch.Tensor, base_mask: torch.Tensor, task_type: str
) -> torch.Tensor:
    """Mean loss over the bases with an output and a label (cross-entropy, or MSE for regression)."""
    if is_regression(task_type):
        keep = base_mask.bool() & torch.isfinite(labels)
        if not keep.any():
            return logits.sum() * 0.0
        return F.mse_loss(logits[..., 0][keep].float(), labels[keep].float())
    keep = base_mask.bool() & (labels >= 0)
    if not keep.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[keep].float(), labels[keep].long())


class PerTokenCNNHead(nn.Module):
    """Adapter head for per-base tasks: two masked same-width 1-D convolutions over token states, then a linear
    output per token (no pooling)."""

    def __init__(
        self, in_dim: int, channels: int, kernel: int, out_dim: int, dropout: float, activation: str
    ):
        super().__init__()
        self.conv1 = nn.Conv1d(in_dim, channels, kernel, padding="same")
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding="same")
        self.act = _ACTIVATIONS[activation]()
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(channels, out_dim)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(1).to(hidden.dtype)  # (B, 1, T): padding is zeroed before every convolution
        x = hidden.transpose(1, 2) * m
        x = self.drop(self.act(self.conv1(x))) * m
        x = self.drop(self.act(self.conv2(x))) * m
        return self.out(x.transpose(1, 2))  # type: ignore[no-any-return]


class PerBaseTaskModel(TaskModel):
    """Backbone + a head applied to every token + the token -> base gather (see the module docstring).

    ``forward`` takes ``base_index`` (batch, bases); without it every non-padding token is one base (a
    single-base tokenizer without special tokens). Returns :class:`PerBaseOutput`.
    """

    def forward(  # type: ignore[override]
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        base_index: torch.Tensor | None = None,
        **_: Any,
    ) -> PerBaseOutput:
        if features is None:
            if input_ids is None:
                raise ValueError("PerBaseTaskModel needs input_ids or features")
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            features = self.backbone_states(input_ids, attention_mask)
        elif attention_mask is None:
            attention_mask = torch.ones(features.shape[:2], dtype=torch.long, device=features.device)
        features = features.to(next(self.head.parameters()).dtype)
        token_logits = self.head(features, attention_mask) if self.token_head else self.head(features)
        if base_index is None:
            base_index = torch.where(
                attention_mask.bool(), torch.arange(attention_mask.shape[1], device=attention_mask.device), -1
            )
        valid = base_index >= 0
        gather = base_index.clamp(min=0).unsqueeze(-1).expand(-1, -1, token_logits.shape[-1])
        logits = torch.gather(token_logits, 1, gather)
        base_mask = valid.to(logits.dtype)
        loss = per_base_loss(logits, labels, base_mask, self.task_type) if labels is not None else None
        return PerBaseOutput(loss=loss, logits=logits, base_mask=base_mask)
