"""The model side of attributions: one scalar per sequence from a fine-tuned task model, batched.

The scalar ``f(s)`` that every attribution method explains:

- classification: the log-odds of the target class, ``z_t - logsumexp_{k != t} z_k`` (binary: ``z_1 - z_0``),
  with ``z`` the task model's logits;
- regression: the model's output ``z_0``.

Sequences are tokenized exactly as in training (special tokens added). Token -> base mapping uses the
tokenizer's character offsets (:meth:`Predictor.encode`). Shapes: ids/mask (batch, length); logits
(batch, num_labels); the scalar (batch,).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import DataError
from ...models.encoding import BatchEncoder, Encoded

__all__ = ["Encoded", "Predictor", "load_predictor"]


@dataclass
class Predictor:
    """A task model (``forward(input_ids, attention_mask).logits``) with its tokenizer and target."""

    model: nn.Module
    tokenizer: Any
    task_type: str = "classification"
    num_labels: int = 2
    max_length: int = 512
    target: int | None = None  # classification: the class explained (default: the last class)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 64

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.left = getattr(self.tokenizer, "padding_side", "right") == "left"
        self.encoder = BatchEncoder(self.tokenizer)
        if self.task_type != "regression":
            t = self.num_labels - 1 if self.target is None else self.target
            if not 0 <= t < self.num_labels:
                raise DataError(f"target {t} is not a class of this model (0..{self.num_labels - 1})")
            self.target = t

    # -- the scalar ---------------------------------------------------------------------------------
    def scalar(self, logits: torch.Tensor) -> torch.Tensor:
        """(batch, num_labels) logits -> (batch,) explained scalar (see the module docstring)."""
        z = logits.float()
        if self.task_type == "regression":
            return z[:, 0]
        assert self.target is not None
        others = torch.cat([z[:, : self.target], z[:, self.target + 1 :]], dim=1)
        return z[:, self.target] - torch.logsumexp(others, dim=1)

    def logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids, attention_mask=mask).logits  # type: ignore[no-any-return]

    # -- tokens -------------------------------------------------------------------------------------
    def encode_many(self, seqs: Sequence[str]) -> list[Encoded]:
        """(ids, character offsets, special-token mask) per sequence, special tokens added as in training."""
        out = self.encoder.encode(seqs, add_special_tokens=True)
        for ids, _, _ in out:
            if len(ids) > self.max_length:
                raise DataError(
                    f"a sequence is {len(ids)} tokens long, more than the run's max_length {self.max_length}; "
                    "attribute shorter sequences (or a window of them)"
                )
        return out

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded (ids, mask) on the tokenizer's padding side."""
        width = max(len(r) for r in rows)
        ids, masks = [], []
        for r in rows:
            p = width - len(r)
            if self.left:
                ids.append([self.pad_id] * p + list(r))
                masks.append([0] * p + [1] * len(r))
            else:
                ids.append(list(r) + [self.pad_id] * p)
                masks.append([1] * len(r) + [0] * p)
        return (
            torch.tensor(ids, dtype=torch.long, device=self.device),
            torch.tensor(masks, dtype=torch.long, device=self.device),
        )

    def predict(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """The scalar of every token row (float64), batched; rows of equal length share a batch."""
        out = np.empty(len(rows), dtype=np.float64)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            ids, mask = self.pad([rows[i] for i in idx])
            with torch.inference_mode():
                out[idx] = self.scalar(self.logits(ids, mask)).double().cpu().numpy()
        return out

    # -- the embedding layer (gradient methods) -----------------------------------------------------
    def embedding(self) -> nn.Embedding:
        """The token embedding of the backbone: ``get_input_embeddings()`` when it is an ``nn.Embedding``, else
        the largest ``nn.Embedding`` of the model (position / token-type tables are smaller than the vocab)."""
        base = getattr(self.model, "backbone", None) or self.model
        get = getattr(base, "get_input_embeddings", None)
        if callable(get):
            try:
                emb = get()
            except (NotImplementedError, AttributeError):
                emb = None
            if isinstance(emb, nn.Embedding):
                return emb
        tables = [m for m in self.model.modules() if isinstance(m, nn.Embedding)]
        if not tables:
            raise DataError("this model has no token embedding layer; use method: ism")
        return max(tables, key=lambda m: m.num_embeddings)


def load_predictor(
    path: str | Path, *, target: int | None = None, device: str | None = None, batch_size: int = 64
) -> Predictor:
    """The predictor of a ``genomefactory-cli train`` run directory."""
    from ...models.loading import default_device
    from ...train.model_io import load_run_model

    dev = torch.device(device) if device else default_device()
    run = load_run_model(path)
    return Predictor(
        run.model,
        run.backbone.tokenizer,
        str(run.meta["task_type"]),
        int(run.meta["num_labels"]),
        int(run.meta["max_length"]),
        target,
        dev,
        batch_size,
    )
