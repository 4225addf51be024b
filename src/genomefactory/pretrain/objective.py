"""The two objectives: masked-LM (encoders) and causal LM (decoders), on token ids of one window.

Masked-LM (BERT): ``max(1, round(mask_rate · n))`` of a window's ``n`` non-special tokens are predicted; each is
replaced by the mask token (``mask_token_rate``, 80 %), by a random token (``random_token_rate``, 10 %) or left as
it is. The unit is the tokenizer's token, so for Nucleotide Transformer's non-overlapping 6-mers a whole 6-mer is
masked (never a part of one, which its neighbours would give away) and a random replacement is a random *6-mer*:
replacements are drawn among the tokens that spell as many A/C/G/T bases as the token they replace (a lone base by
a lone base), so a corrupted window keeps its length in bases. Labels are the original ids at predicted positions,
``-100`` elsewhere.

Causal LM: every non-special token is a target; position ``t``'s logits predict token ``t + 1``.

Reverse complement: a window read from the ``-`` strand is tokenized as the reverse-complement sequence, so its
targets are the complement bases in reverse order. Caduceus PS's LM head is RC-equivariant by construction
(``logits(RC(x))[L-1-i] = complement(logits(x)[i])``), so its loss on a window and on its reverse complement with
mirrored targets are equal (tested).

Shapes: ids, labels, attention mask (batch, length); logits (batch, length, vocab), vocab possibly padded beyond
the tokenizer's (the extra ids are never targets).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LMObjective", "Masker", "clm_labels", "token_nll"]

IGNORE = -100
_DNA = set("ACGT")


def _bases(token: str) -> str:
    """The A/C/G/T letters a vocabulary entry spells ('' if it is not pure DNA)."""
    t = token.lstrip("#Ġ▁").upper()
    return t if t and set(t) <= _DNA else ""


@dataclass
class Masker:
    """BERT masking with whole-token units and same-length random replacements (module docstring)."""

    mask_id: int
    special: frozenset[int]
    by_length: dict[int, np.ndarray]  # bases spelled -> ids of pure-DNA tokens of that length
    token_length: np.ndarray  # id -> bases spelled (0: not pure DNA)
    rate: float = 0.15
    mask_rate: float = 0.8
    random_rate: float = 0.1

    @classmethod
    def for_tokenizer(
        cls, tokenizer: Any, mask_token: str, rate: float, mask_rate: float, random_rate: float
    ) -> Masker:
        n = len(tokenizer)
        tokens = tokenizer.convert_ids_to_tokens(list(range(n)))
        special = frozenset(int(i) for i in tokenizer.all_special_ids)
        lengths = np.zeros(n, dtype=np.int64)
        groups: dict[int, list[int]] = defaultdict(list)
        for i, tok in enumerate(tokens):
            b = _bases(str(tok)) if i not in special and tok is not None else ""
            lengths[i] = len(b)
            if b:
                groups[len(b)].append(i)
        mask_id = tokenizer.convert_tokens_to_ids(mask_token)
        by_length = {k: np.array(v, dtype=np.int64) for k, v in groups.items()}
        return cls(int(mask_id), special, by_length, lengths, rate, mask_rate, random_rate)

    def __call__(self, ids: list[int], rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """(corrupted ids, labels) of one window."""
        x = np.asarray(ids, dtype=np.int64)
        labels = np.full_like(x, IGNORE)
        cand = np.flatnonzero(~np.isin(x, list(self.special)))
        if cand.size == 0:
            return ids, labels.tolist()
        k = max(1, round(self.rate * cand.size))
        pos = np.sort(rng.choice(cand, size=k, replace=False))
        labels[pos] = x[pos]
        u = rng.random(k)
        to_mask = pos[u < self.mask_rate]
        to_random = pos[(u >= self.mask_rate) & (u < self.mask_rate + self.random_rate)]
        x[to_mask] = self.mask_id
        everything = np.concatenate(list(self.by_length.values())) if self.by_length else x[cand]
        for p in to_random:
            pool = self.by_length.get(int(self.token_length[x[p]]), everything)
            x[p] = pool[rng.integers(pool.size)]
        return x.tolist(), labels.tolist()


def clm_labels(ids: list[int], special: frozenset[int]) -> list[int]:
    """Causal-LM targets: every non-special token (the loss shifts them by one)."""
    return [IGNORE if i in special else i for i in ids]


def token_nll(logits: torch.Tensor, labels: torch.Tensor, causal: bool) -> tuple[torch.Tensor, int]:
    """(summed negative log-likelihood, number of targets) of a batch; causal: logits[t] predicts labels[t+1]."""
    if causal:
        logits, labels = logits[:, :-1], labels[:, 1:]
    flat = labels.reshape(-1)
    n = int((flat != IGNORE).sum())
    nll = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), flat, ignore_index=IGNORE, reduction="sum"
    )
    return nll, n


class LMObjective(nn.Module):
    """The family's full published model (its own LM head) with our loss; ``model`` is what gets saved."""

    def __init__(self, model: nn.Module, causal: bool) -> None:
        super().__init__()
        self.model = model
        self.causal = causal

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        nll, n = token_nll(logits, labels, self.causal)
        return {"loss": nll / max(n, 1)}
