"""Embedding baseline: a batched transformers loop with masked mean pooling.

``transformers_esm`` gives the transformers ``EsmModel`` holding the same weights as a genomefactory NT backbone
(the native module keeps the published key names, so the state dict loads as is): what a user gets from
``AutoModel.from_pretrained`` on the published checkpoint. ``plain_embed`` is the loop they write around it.
"""

from __future__ import annotations

from typing import Any

import torch


def transformers_esm(backbone: Any) -> torch.nn.Module:
    import transformers

    model = transformers.EsmForMaskedLM(transformers.EsmConfig(**backbone.config))
    missing, unexpected = model.load_state_dict(backbone.model.state_dict(), strict=False)
    if missing or unexpected:
        raise RuntimeError(
            f"weights do not match transformers' Esm: missing {missing}, unexpected {unexpected}"
        )
    return model.esm.eval()


def plain_embed(
    model: Any, tokenizer: Any, seqs: list[str], batch_size: int, sort: bool = True
) -> torch.Tensor:
    """Mean-pooled last hidden states (real tokens only), in input order."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i])) if sort else list(range(len(seqs)))
    out = torch.empty(0)
    with torch.no_grad():
        for start in range(0, len(seqs), batch_size):
            rows = order[start : start + batch_size]
            enc = tokenizer([seqs[i] for i in rows], padding=True, return_tensors="pt")
            hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            if not out.numel():
                out = torch.empty(len(seqs), pooled.shape[-1])
            out[torch.tensor(rows)] = pooled
    return out
