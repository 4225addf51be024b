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


def sequence_loglik(handle: ModelHandle, seqs: list[list[int]]) -> list[tuple[float, int, bool]]:
    """``(LL, N, ok)`` for token sequences (ok False: a token has no row in the output layer)."""
    special = torch.tensor(sorted(handle.special_ids), dtype=torch.long, device=handle.device)

    def fn(ids: torch.Tensor, mask: torch.Tensor) -> list[tuple[float, int, bool]]:
        logits = handle.logits(ids, mask)[:, :-1]
        target = ids[:, 1:]
        vocab = logits.shape[-1]
        # a target counts when it and the token predicting it are real (left padding: the first real token
        # is predicted from a pad and is left out, as it has no prefix) and it is not a special token
        keep = (mask[:, 1:] != 0) & (mask[:, :-1] != 0) & ~torch.isin(target, special)
        outside = ((target >= vocab) & keep).any(1)
        idx = target.clamp(max=vocab - 1).unsqueeze(-1)
        # float64 one row at a time: sums over hundreds of tokens stay exact to ~1e-9 without holding a
        # (batch, length, vocab) float64 tensor
        sums = []
        for r in range(logits.shape[0]):
            row = logits[r].double()
            logp = row.gather(-1, idx[r]).squeeze(-1) - torch.logsumexp(row, dim=-1)
            sums.append(float((logp * keep[r]).sum()))
        counts = keep.sum(1).tolist()
        return [(s, int(n), not o) for s, n, o in zip(sums, counts, outside.tolist(), strict=True)]

    return handle.batched(seqs, fn)


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
        toks = handle.ids_many([s for w in items for s in (w.ref_seq, w.alt_seq)])
        for i in range(len(items)):
            ref, alt = toks[2 * i], toks[2 * i + 1]
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
