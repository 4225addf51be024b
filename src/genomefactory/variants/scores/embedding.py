"""``embedding``: distance between the pooled embeddings of the REF and ALT windows (any model).

Each window is tokenized as the model is fed (``window.special_tokens``) and run through the headless backbone
(``family.encode``); the hidden states of a layer (-1 = final hidden state, 0 = embeddings, i = output of block
i; shape (length, hidden)) are pooled over the window's real tokens (``embedding.pooling``, default the family's:
mean / cls / last / max, mask-aware, :func:`genomefactory.models.pooling.pool`) into ``e``. Then::

    embedding_cosine = 1 - <e_ref, e_alt> / (|e_ref| |e_alt|)
    embedding_l2     = |e_alt - e_ref|_2

Output names carry the layer when it is not -1: ``embedding_cosine_layer3``, ``embedding_l2_layer_minus2``.
Larger = larger change. SNVs, MNVs and indels; SNVs of one tile share the REF embedding (computed once). For an
RC-equivariant model (Caduceus PS) the RC window's states are the forward states with channels permuted, so both
distances are the same on either strand.
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

__all__ = ["EMBEDDING", "EmbeddingDistance", "output_name"]


def output_name(metric: str, layer: int) -> str:
    if layer == -1:
        return f"embedding_{metric}"
    return f"embedding_{metric}_layer{layer}" if layer >= 0 else f"embedding_{metric}_layer_minus{-layer}"


def pooled(
    handle: ModelHandle, seqs: list[list[int]], layers: list[int], pooling: str
) -> list[list[np.ndarray]]:
    """Per sequence, one pooled float64 vector per layer."""
    from ..engine import pool_states

    def fn(ids: torch.Tensor, mask: torch.Tensor) -> list[list[np.ndarray]]:
        per_layer = [
            pool_states(h, mask, pooling).double().cpu().numpy() for h in handle.hidden(ids, mask, layers)
        ]
        return [[v[r] for v in per_layer] for r in range(ids.shape[0])]

    return handle.batched(seqs, fn)


def distance(metric: str, a: np.ndarray, b: np.ndarray) -> float:
    if metric == "cosine":
        denom = float(np.linalg.norm(a) * np.linalg.norm(b))
        return float(1.0 - np.dot(a, b) / denom) if denom > 0 else float("nan")
    return float(np.linalg.norm(b - a))


class EmbeddingDistance(VariantScore):
    name = "embedding"
    description = "cosine / L2 distance of pooled REF and ALT window embeddings (any model)"
    orientation = "+"

    def unavailable(self, handle: ModelHandle) -> str | None:
        return None

    def outputs(self, handle: ModelHandle, cfg: VariantsConfig) -> list[str]:
        return [output_name(m, la) for la in cfg.embedding.layers for m in cfg.embedding.metrics]

    def compute(self, handle: ModelHandle, items: list[AlleleWindow], cfg: VariantsConfig) -> ScoreBlock:
        block = ScoreBlock.empty(self.outputs(handle, cfg), len(items))
        e = cfg.embedding
        todo, seqs = [], []
        toks = handle.ids_many([s for w in items for s in (w.ref_seq, w.alt_seq)])
        for i in range(len(items)):
            ref, alt = toks[2 * i], toks[2 * i + 1]
            if max(len(ref), len(alt)) > handle.max_tokens:
                block.fail(i, "window_too_long")
                continue
            todo.append(i)
            seqs += [ref, alt]
        vecs = pooled(handle, seqs, e.layers, e.pooling or handle.pooling)
        for k, i in enumerate(todo):
            ref_v, alt_v = vecs[2 * k], vecs[2 * k + 1]
            for li, layer in enumerate(e.layers):
                for m in e.metrics:
                    block.values[output_name(m, layer)][i] = distance(m, ref_v[li], alt_v[li])
        return block


EMBEDDING = SCORES.register(EmbeddingDistance())
