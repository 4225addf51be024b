"""The data and model stages of ``run_train``: validate the task data, build the task model, tokenize.

``prepare_splits`` reads and validates ``train/dev/test`` (DNA upper-cased, IUPAC legal, labels checked) before
anything is loaded or written; ``build_model`` loads the backbone and asks the registered tuning method to build
the task model; ``tokenize_splits`` turns each split into token ids (special tokens added, truncated to the
model's maximum, no padding: the collators pad per batch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from .config import TrainConfig
from .data import Split, load_task
from .methods import TuningMethod, count_parameters, get_method
from .task_types import is_per_base

if TYPE_CHECKING:
    from ..models.registry import Backbone, ModelFamily
    from .heads import TaskModel

__all__ = [
    "FROM_SCRATCH_LEARNING_RATE",
    "BuiltModel",
    "PreparedData",
    "TokenizedData",
    "build_model",
    "prepare_splits",
    "resolve_learning_rate",
    "tokenize_splits",
]

log = logging.getLogger("genomefactory.train")

# Default peak rate of a model trained from scratch (model.init tiny/random): a family's default is its
# pretrained fine-tuning rate (~3e-5), at which a random backbone barely learns (NT v1, GUE mouse: test MCC 0.30
# at 3e-5 vs 0.57 at 1e-3). Kept here until ModelFamily declares its own from-scratch rate.
FROM_SCRATCH_LEARNING_RATE = 1e-3  # ModelFamily.learning_rate_from_scratch's default (kept for importers)


@dataclass
class PreparedData:
    """The validated task splits (``train``, ``dev``, ``test``) and the number of labels (1 for regression)."""

    splits: dict[str, Split]
    num_labels: int
    task_type: str


@dataclass
class BuiltModel:
    """The loaded backbone, the task model the tuning method built on it, and what was resolved with it."""

    backbone: Backbone
    model: TaskModel
    method: TuningMethod
    max_len: int
    learning_rate: float
    trainable_params: int
    total_params: int


@dataclass
class TokenizedData:
    """Token ids per split (lists of ints, no padding) and how many rows were truncated in all; per-base tasks
    also hold each sequence's base -> token index (``train/per_base.py``)."""

    ids: dict[str, list[list[int]]]
    truncated: int
    base_index: dict[str, list[np.ndarray]] | None = None


def _check_classes(splits: dict[str, Split], label_column: str, per_base: bool = False) -> None:
    """A split with a single class trains to nothing or scores MCC 0 whatever the model does: refuse it."""
    for sp in splits.values():
        values = np.concatenate([t[t >= 0] for t in sp.labels]) if per_base else sp.labels
        classes = np.unique(values)
        if per_base and classes.size == 0:
            raise DataError(f"{sp.path}: no base has a label in column '{label_column}'")
        if classes.size < 2:
            raise DataError(
                f"{sp.path}: label column '{label_column}' holds one class only ({int(classes[0])} in all "
                f"{len(sp.labels)} rows); a classification split needs at least two classes (a model trained or "
                "scored on one class reaches MCC 0): add rows of the other classes or use another split"
            )


def prepare_splits(cfg: TrainConfig) -> PreparedData:
    """Read and validate the task folder (nothing is loaded or written yet)."""
    task_type = cfg.task.type
    splits, num_labels = load_task(
        cfg.data.path, cfg.data.sequence_column, cfg.data.label_column, task_type, cfg.task.num_labels
    )
    if task_type in ("classification", "per_base_classification"):
        _check_classes(splits, cfg.data.label_column, per_base=is_per_base(task_type))
    return PreparedData(splits, num_labels, task_type)


def resolve_learning_rate(cfg: TrainConfig, family: ModelFamily) -> float:
    """``training.learning_rate``, else the from-scratch rate for ``init: tiny/random``, else the family's."""
    if cfg.training.learning_rate is not None:
        return cfg.training.learning_rate
    return family.default_learning_rate(cfg.model.init)


def build_model(cfg: TrainConfig, data: PreparedData) -> BuiltModel:
    """Seed, load the backbone, build the task model with ``cfg.method`` (a bad LoRA target fails here)."""
    from transformers import set_seed

    from ..models.checkpointing import enable_checkpointing
    from ..models.loading import load_backbone

    set_seed(cfg.training.seed)
    backbone = load_backbone(cfg.model)
    max_len = min(cfg.data.max_length or backbone.max_tokens, backbone.max_tokens)
    method = get_method(cfg.method.name)
    model = method.build(backbone, cfg.method, data.task_type, data.num_labels)
    if cfg.training.gradient_checkpointing:
        if method.supports_checkpointing and model.backbone is not None:
            enable_checkpointing(model.family, model.backbone)
        else:
            log.info(
                "training.gradient_checkpointing ignored for method %s: %s",
                method.name,
                method.checkpointing_note or "the method does not support it",
            )
    trainable, total = count_parameters(model)
    log.info(
        "model %s (%s): %d trainable of %d parameters", backbone.family.name, method.name, trainable, total
    )
    lr = resolve_learning_rate(cfg, backbone.family)
    return BuiltModel(backbone, model, method, max_len, lr, trainable, total)


def tokenize_splits(data: PreparedData, built: BuiltModel) -> TokenizedData:
    from .data import tokenize

    if is_per_base(data.task_type):
        from .per_base import encode_per_base

        ids, index, truncated = {}, {}, 0
        for name, sp in data.splits.items():
            tok = built.backbone.tokenizer
            ids[name], index[name], n = encode_per_base(tok, sp.sequences, built.max_len, str(sp.path))
            truncated += n
        return TokenizedData(ids, truncated, index)
    ids, truncated = {}, 0
    for name, sp in data.splits.items():
        ids[name], n = tokenize(built.backbone.tokenizer, sp.sequences, built.max_len, str(sp.path))
        truncated += n
    return TokenizedData(ids, truncated)
