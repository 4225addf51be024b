"""``masked_marginal``: the masked-marginal log-likelihood ratio of an SNV under a masked-LM encoder.

For encoders with an MLM head (NT v1/v2, DNABERT-2, Caduceus, ``hf_auto`` ``*ForMaskedLM``). SNVs only.

Definition (one rule for every tokenizer). The window ``w`` is centred on the SNV (base ``o = floor(W/2)``, less at
a clipped contig edge) and tokenized as the model is fed (``window.special_tokens``): tokens ``t_1..t_n`` with
character spans. Non-overlapping tokenizers cover each base by exactly one token ``t_j``, span ``[a, b)``:

- char tokenizers (HyenaDNA-style ids, Caduceus, ``hf_auto`` char): ``t_j`` is the base itself;
- NT's non-overlapping 6-mers: ``t_j`` is the 6-mer (or leftover single base) that contains the SNV, in the frame
  of the window's tokenization;
- BPE (DNABERT-2): the BPE token of the REF tokenization that contains the SNV.

Let ``u = w[a:o] + ALT + w[o+1:b]`` (the covering token's text with ALT substituted) and ``U_1..U_k`` the
tokenization of ``u`` alone, without special tokens (k = 1 for char and 6-mer tokenizers; BPE may split ``u``
into several tokens). With ``x^(m)`` = the window's tokens with ``t_j`` replaced by ``m`` mask tokens::

    masked_marginal = sum_{i=1..k} log p(U_i at mask i | x^(k)) - log p(t_j at the mask | x^(1))

where ``log p`` is the log-softmax of the MLM logits over the model's vocabulary. For k = 1 both terms come from
the same forward pass of ``x^(1)``, and every ALT at one position shares it. Negative = ALT less likely than REF.
A model without a mask token or without per-token logits (a bare ``AutoModel``) cannot give this score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from . import SCORES
from .base import ScoreBlock, VariantScore

if TYPE_CHECKING:
    from ..config import VariantsConfig
    from ..engine import ModelHandle
    from ..windows import AlleleWindow

__all__ = ["MASKED_MARGINAL", "MaskedMarginal", "MaskedPlan", "masked_logprobs", "plan_many", "plan_masked"]


@dataclass(frozen=True)
class MaskedPlan:
    """What is masked and scored for one SNV (token indices refer to the window's tokenization)."""

    token: int  # index j of the covering token t_j
    span: tuple[int, int]  # its characters [a, b) in the window
    ref_token: int  # id of t_j
    alt_tokens: tuple[int, ...]  # ids U_1..U_k of the ALT text of the span
    ref_input: tuple[int, ...]  # x^(1)
    alt_input: tuple[int, ...]  # x^(k)


def plan_masked(handle: ModelHandle, w: AlleleWindow) -> MaskedPlan:
    """The masked inputs and the tokens to score for an SNV window (see the module docstring)."""
    return plan_many(handle, [w])[0]


def plan_many(handle: ModelHandle, windows: list[AlleleWindow]) -> list[MaskedPlan]:
    """:func:`plan_masked` for many SNV windows (two batched tokenizer calls)."""
    mask = handle.mask_id
    assert mask is not None
    encs = handle.encode_many([w.ref_seq for w in windows])
    covering = []
    for w, (_, offsets, special) in zip(windows, encs, strict=True):
        o = w.offset
        j = next(i for i, (a, b) in enumerate(offsets) if not special[i] and a <= o < b)
        a, b = offsets[j]
        covering.append((j, a, b, w.ref_seq[a:o] + w.alt + w.ref_seq[o + 1 : b]))
    alts = handle.ids_many([u for *_, u in covering], special=False)
    plans = []
    for (ids, _, _), (j, a, b, _), alt in zip(encs, covering, alts, strict=True):
        ref_in = (*ids[:j], mask, *ids[j + 1 :])
        alt_in = (*ids[:j], *([mask] * len(alt)), *ids[j + 1 :])
        plans.append(MaskedPlan(j, (a, b), ids[j], tuple(alt), ref_in, alt_in))
    return plans


def masked_logprobs(handle: ModelHandle, inputs: list[tuple[int, ...]]) -> list[torch.Tensor]:
    """Per input, the log-softmax over the vocabulary at each of its mask tokens: (masks, vocab) float32."""
    mask_id = handle.mask_id
    assert mask_id is not None
    head = handle.token_head()

    def fn(ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        where = torch.eq(ids, mask_id)
        if head is not None:  # the per-token head on the masked positions only
            hidden = handle.hidden(ids, mask, [-1])[0].to(handle.dtype)
            logits = head(hidden[where].unsqueeze(0))[0].float()
        else:
            logits = handle.logits(ids, mask)[where]
        lp = torch.log_softmax(logits, dim=-1).cpu()
        return list(torch.split(lp, where.sum(1).tolist()))

    return handle.batched(inputs, fn)


class MaskedMarginal(VariantScore):
    name = "masked_marginal"
    description = "log p(ALT token(s)) - log p(REF token) at the masked token covering the SNV (MLM encoders)"
    orientation = "-"
    snv_only = True
    centred = True

    def unavailable(self, handle: ModelHandle) -> str | None:
        if handle.is_decoder:
            return "it is a causal decoder; use the loglik score"
        if handle.mask_id is None:
            return "its tokenizer has no mask token"
        if not handle.has_lm_head():
            return (
                "the model has no masked-LM head (its forward returns no per-token logits, e.g. a bare "
                "hf_auto AutoModel); use a *ForMaskedLM checkpoint, or the embedding score"
            )
        return None

    def outputs(self, handle: ModelHandle, cfg: VariantsConfig) -> list[str]:
        return [self.name]

    def compute(self, handle: ModelHandle, items: list[AlleleWindow], cfg: VariantsConfig) -> ScoreBlock:
        block = ScoreBlock.empty([self.name], len(items))
        snv = [i for i, w in enumerate(items) if w.is_snv]
        for i in set(range(len(items))) - set(snv):
            block.fail(i, "not_snv")
        plans: list[MaskedPlan | None] = [None] * len(items)
        for i, plan in zip(snv, plan_many(handle, [items[i] for i in snv]), strict=True):
            if max(len(plan.ref_input), len(plan.alt_input)) > handle.max_tokens:
                block.fail(i, "window_too_long")
            else:
                plans[i] = plan
        live = [p for p in plans if p is not None]
        inputs = [x for p in live for x in (p.ref_input, p.alt_input)]
        rows = masked_logprobs(handle, inputs)
        values = block.values[self.name]
        k = 0
        for i, p in enumerate(plans):
            if p is None:
                continue
            lp_ref, lp_alt = rows[2 * k], rows[2 * k + 1]
            k += 1
            vocab = lp_ref.shape[-1]
            if p.ref_token >= vocab or any(t >= vocab for t in p.alt_tokens):
                block.fail(i, "token_outside_head")
                continue
            alt_sum = sum(float(lp_alt[m, t]) for m, t in enumerate(p.alt_tokens))
            values[i] = alt_sum - float(lp_ref[0, p.ref_token])
        return block


MASKED_MARGINAL = SCORES.register(MaskedMarginal())
