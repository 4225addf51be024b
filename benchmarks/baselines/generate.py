"""Generation baselines: greedy loops a user writes around the model's forward.

``cached_greedy`` keeps the key/value cache (``past_key_values``, ``use_cache=True``): the loop a competent user
writes for a transformers decoder (GenomeOcean), feeding one new token per step. ``uncached_greedy`` re-runs the
whole sequence per token: the only plain loop for a family whose forward exposes no cache (Evo's hyena layers keep
their FIR/IIR state only inside the family's own engine), so it is that family's baseline.
"""

from __future__ import annotations

from typing import Any

import torch


@torch.no_grad()
def cached_greedy(model: Any, ids: torch.Tensor, new: int) -> torch.Tensor:
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
    past, mask, toks = out.past_key_values, torch.ones_like(ids), []
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    for _ in range(new - 1):
        toks.append(nxt)
        mask = torch.cat([mask, torch.ones_like(nxt)], dim=1)
        out = model(input_ids=nxt, attention_mask=mask, past_key_values=past, use_cache=True)
        past = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    toks.append(nxt)
    return torch.cat(toks, dim=1)


@torch.no_grad()
def uncached_greedy(model: Any, ids: torch.Tensor, new: int) -> torch.Tensor:
    seq = ids
    for _ in range(new):
        logits = model(input_ids=seq).logits
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq[:, ids.shape[1] :]
