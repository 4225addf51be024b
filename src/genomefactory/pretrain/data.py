"""Token-level datasets of the ``pretrain`` command: training windows drawn on demand, fixed validation windows.

Training item ``i`` is window ``i`` of the corpus (``Corpus.train_window``), tokenized with the family's tokenizer
(special tokens added, truncated to the model's maximum), then masked (mlm; mask drawn from
``default_rng([seed, 1, i])``) or labelled for next-token prediction (clm). Validation items are drawn once, with
their masks fixed, so every evaluation scores the same targets. Items: ``input_ids`` and ``labels`` (lists of
ints, same length); the collator pads a batch on the tokenizer's side (labels ``-100``, attention mask 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .corpus import Corpus
from .objective import IGNORE, Masker, clm_labels

__all__ = ["Example", "LMCollator", "Tokenize", "TrainWindows", "labelled"]

Example = dict[str, list[int]]


@dataclass
class Tokenize:
    tokenizer: Any
    max_tokens: int

    def __call__(self, seq: str) -> list[int]:
        enc = self.tokenizer(seq, add_special_tokens=True, truncation=True, max_length=self.max_tokens)
        return list(enc["input_ids"])


def labelled(
    ids: list[int], masker: Masker | None, special: frozenset[int], rng: np.random.Generator
) -> Example:
    if masker is None:
        return {"input_ids": ids, "labels": clm_labels(ids, special)}
    x, y = masker(ids, rng)
    return {"input_ids": x, "labels": y}


class TrainWindows(torch.utils.data.Dataset[Example]):
    """``n`` training examples, each drawn when asked for (nothing is held in memory)."""

    def __init__(
        self,
        corpus: Corpus,
        n: int,
        tokenize: Callable[[str], list[int]],
        masker: Masker | None,
        special: frozenset[int],
        seed: int,
        rc_augment: bool,
        max_n: float,
    ) -> None:
        self.corpus, self.n, self.tokenize, self.masker = corpus, n, tokenize, masker
        self.special, self.seed, self.rc_augment, self.max_n = special, seed, rc_augment, max_n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Example:
        seq = self.corpus.train_window(self.seed, int(i), self.rc_augment, self.max_n)
        rng = np.random.default_rng([self.seed, 1, int(i)])
        return labelled(self.tokenize(seq), self.masker, self.special, rng)


def validation_examples(
    corpus: Corpus,
    n: int,
    tokenize: Callable[[str], list[int]],
    masker: Masker | None,
    special: frozenset[int],
    seed: int,
) -> list[Example]:
    out = []
    for j, w in enumerate(corpus.val_tiles(n)):
        rng = np.random.default_rng([seed, 2, j])
        out.append(labelled(tokenize(corpus.window_seq(corpus.val, w)), masker, special, rng))
    return out


@dataclass
class LMCollator:
    pad_id: int
    side: str  # "left" or "right"

    def __call__(self, batch: list[Example]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, b in enumerate(batch):
            n = len(b["input_ids"])
            sl = slice(width - n, width) if self.side == "left" else slice(0, n)
            ids[r, sl] = torch.tensor(b["input_ids"])
            labels[r, sl] = torch.tensor(b["labels"])
            mask[r, sl] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
