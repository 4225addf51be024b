"""``finetuned``: the change of a fine-tuned model's prediction, ALT window minus REF window.

For ``model.path`` = a ``genomefactory-cli train`` run directory (full, LoRA or adapter; the task model is rebuilt
by ``genomefactory.train.model_io.load_run_model``). Windows are tokenized exactly as in training (the
tokenizer's special tokens added); a window longer than the run's ``max_length`` tokens is not truncated but gets
status ``window_too_long`` (set ``window.size`` to the training sequence length). SNVs, MNVs and indels. Let
``z(s)`` be the task model's logits for window ``s``:

- classification with K classes, ``p(s) = softmax(z(s))``::

      finetuned_delta_p{k} = p_k(alt window) - p_k(ref window)      for k = 0..K-1

- regression::

      finetuned_delta = z(alt window) - z(ref window)

Evaluation orientation ``abs`` (a change of the prediction in either direction is an effect). SNVs of one tile
share the REF prediction (computed once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from . import SCORES
from .base import ScoreBlock, VariantScore

if TYPE_CHECKING:
    from ..config import VariantsConfig
    from ..engine import ModelHandle
    from ..windows import AlleleWindow

__all__ = ["FINETUNED", "FineTunedDelta", "predictions"]


def _is_regression(handle: ModelHandle) -> bool:
    return handle.run_meta is not None and handle.run_meta.get("task_type") == "regression"


def predictions(handle: ModelHandle, seqs: list[list[int]]) -> list[np.ndarray]:
    """Class probabilities (classification) or the regression output, per token sequence."""
    regression = _is_regression(handle)

    def fn(ids: torch.Tensor, mask: torch.Tensor) -> list[np.ndarray]:
        z = handle.task_logits(ids, mask).double()
        out = z if regression else torch.softmax(z, dim=-1)
        return list(out.cpu().numpy())

    return handle.batched(seqs, fn)


class FineTunedDelta(VariantScore):
    name = "finetuned"
    description = "prediction(ALT window) - prediction(REF window) of a fine-tuned run (class probabilities)"
    orientation = "abs"

    def unavailable(self, handle: ModelHandle) -> str | None:
        if handle.task is None:
            return "model.path is not a genomefactory training run directory (train one with `genomefactory-cli train`)"
        return None

    def outputs(self, handle: ModelHandle, cfg: VariantsConfig) -> list[str]:
        if _is_regression(handle):
            return ["finetuned_delta"]
        assert handle.run_meta is not None
        return [f"finetuned_delta_p{k}" for k in range(int(handle.run_meta["num_labels"]))]

    def compute(self, handle: ModelHandle, items: list[AlleleWindow], cfg: VariantsConfig) -> ScoreBlock:
        names = self.outputs(handle, cfg)
        block = ScoreBlock.empty(names, len(items))
        todo, seqs = [], []
        toks = handle.ids_many([s for w in items for s in (w.ref_seq, w.alt_seq)], special=True)
        for i in range(len(items)):
            ref, alt = toks[2 * i], toks[2 * i + 1]
            if max(len(ref), len(alt)) > handle.task_max_tokens:
                block.fail(i, "window_too_long")
                continue
            todo.append(i)
            seqs += [ref, alt]
        preds = predictions(handle, seqs)
        for k, i in enumerate(todo):
            delta = preds[2 * k + 1] - preds[2 * k]
            for c, name in enumerate(names):
                block.values[name][i] = float(delta[c])
        return block


FINETUNED = SCORES.register(FineTunedDelta())
