"""``loglik``: log-likelihood of the ALT window minus the REF window under a causal decoder.

For causal decoders (HyenaDNA, Evo, GenomeOcean, causal ``hf_auto``). SNVs, MNVs and indels.

A window ``s`` is tokenized as the model is fed (``window.special_tokens``) into ``x_1..x_n``; its log-likelihood is
the sum of next-token log-probabilities over the tokens the model predicts from a prefix, leaving out special
tokens::

    LL(s) = sum_{t=2..n, x_t not special} log softmax(logits_{t-1})[x_t],     N(s) = number of terms

(the first token has no prefix). With the REF and ALT windows of :mod:`genomefactory.variants.windows`::

    loglik_sum  = LL(alt window) - LL(ref window)
    loglik_mean = LL(alt window) / N(alt window) - LL(ref window) / N(ref window)

For an indel the ALT window is ``len(ALT) - len(REF)`` bases longer than the REF window (same flanks), so
``loglik_sum`` includes the likelihood of the inserted bases and ``loglik_mean`` compares per-token averages.
Negative = ALT less likely than REF. SNVs of one tile share the REF window (computed once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from . import SCORES
from .base import ScoreBlock, VariantScore

if TYPE_CHECKING:
    from ..config import VariantsConfig
    from ..engine import ModelHandle
    from ..windows import AlleleWindow

__all__ = ["LOGLIK", "LogLikelihood", "sequence_loglik"]


def _take(special: frozenset[int]) -> object:
    def take(out: torch.Tensor, row: int, sl: slice, seq: tuple[int, ...]) -> tuple[float, int, bool]:
        logits = out[row, sl]
        targets = torch.tensor(seq[1:], dtype=torch.long, device=logits.device)
        keep = torch.tensor([t not in special for t in seq[1:]], dtype=torch.bool, device=logits.device)
        if bool((targets[keep] >= logits.shape[-1]).any()):
            return float("nan"), 0, False
        lp = torch.log_softmax(logits[:-1].double(), dim=-1)
        picked = lp.gather(1, targets.clamp(max=logits.shape[-1] - 1).unsqueeze(1)).squeeze(1)
        return float(picked[keep].sum()), int(keep.sum()), True

    return take


def sequence_loglik(handle: ModelHandle, seqs: list[list[int]]) -> list[tuple[float, int, bool]]:
    """``(LL, N, ok)`` for token sequences (ok False: a token has no row in the output layer)."""
    return handle.batched(seqs, handle.logits, _take(handle.special_ids))  # type: ignore[arg-type]


class LogLikelihood(VariantScore):
    name = "loglik"
    description = "LL(ALT window) - LL(REF window), summed and per-token mean (causal decoders)"
    orientation = "-"

    def unavailable(self, handle: ModelHandle) -> str | None:
        if not handle.is_decoder:
            return "it is not a causal decoder (bidirectional encoders: use masked_marginal)"
        if not handle.has_lm_head():
            return "the model has no language-model head (its forward returns no per-token logits)"
        return None

    def outputs(self, handle: ModelHandle, cfg: VariantsConfig) -> list[str]:
        return ["loglik_sum", "loglik_mean"]

    def compute(self, handle: ModelHandle, items: list[AlleleWindow], cfg: VariantsConfig) -> ScoreBlock:
        block = ScoreBlock.empty(self.outputs(handle, cfg), len(items))
        todo: list[int] = []
        seqs: list[list[int]] = []
        for i, w in enumerate(items):
            ref, alt = handle.ids(w.ref_seq), handle.ids(w.alt_seq)
            if max(len(ref), len(alt)) > handle.max_tokens:
                block.fail(i, "window_too_long")
                continue
            todo.append(i)
            seqs += [ref, alt]
        res = sequence_loglik(handle, seqs)
        for k, i in enumerate(todo):
            (lr, nr, okr), (la, na, oka) = res[2 * k], res[2 * k + 1]
            if not (okr and oka) or nr == 0 or na == 0:
                block.fail(i, "token_outside_head" if not (okr and oka) else "window_too_long")
                continue
            block.values["loglik_sum"][i] = la - lr
            block.values["loglik_mean"][i] = la / na - lr / nr
        return block


LOGLIK = SCORES.register(LogLikelihood())
