"""What every attribution method returns, the one-hot layout TF-MoDISco expects, and the method registry.

Layout (TF-MoDISco's): one-hot ``(N, L, 4)`` in A, C, G, T order; hypothetical contributions ``(N, L, 4)``
(the score each base *would* get at each position); the contribution of the observed base is
``onehot * hypothetical`` summed over the last axis, ``(N, L)``. Sequences shorter than the longest one are
zero-padded on the right (``lengths`` says where each ends); a base other than ACGT has a zero one-hot row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BASES", "METHODS", "AttributionResult", "Method", "one_hot", "register"]

BASES = "ACGT"
_INDEX = {b: i for i, b in enumerate(BASES)}


def one_hot(seqs: list[str], width: int | None = None) -> np.ndarray:
    """(N, width, 4) float32 one-hot of ``seqs`` (ACGT; other letters and padding are all-zero rows)."""
    width = width or max((len(s) for s in seqs), default=0)
    out = np.zeros((len(seqs), width, 4), dtype=np.float32)
    for n, s in enumerate(seqs):
        for i, ch in enumerate(s[:width]):
            j = _INDEX.get(ch)
            if j is not None:
                out[n, i, j] = 1.0
    return out


@dataclass
class AttributionResult:
    """One method's attributions for N sequences (arrays padded to the longest sequence)."""

    method: str
    hypothetical: np.ndarray  # (N, L, 4) float32
    contribution: np.ndarray  # (N, L) float32: the observed base's score
    f_x: np.ndarray  # (N,) float64: the explained scalar of each sequence
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # method-specific arrays, (N, ...) each
    notes: dict[str, Any] = field(default_factory=dict)  # JSON-able facts (token mapping, baseline, ...)


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    compute: Callable[..., AttributionResult]  # (predictor, sequences, cfg) -> result
    needs_gradients: bool = False


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def hypothetical_from_deltas(deltas: np.ndarray) -> np.ndarray:
    """ISM deltas (L, 4) (0 at the reference base) -> hypothetical contributions: each position centred on its
    mean over the four bases, so the observed base scores minus the mean effect of mutating it."""
    return deltas - deltas.mean(axis=-1, keepdims=True)  # type: ignore[no-any-return]


def observed(hyp: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    return (hyp * onehot).sum(-1)  # type: ignore[no-any-return]


def pad_stack(rows: list[np.ndarray], width: int, tail: tuple[int, ...] = ()) -> np.ndarray:
    out = np.zeros((len(rows), width, *tail), dtype=np.float32)
    for n, r in enumerate(rows):
        out[n, : len(r)] = r
    return out


def chunks(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]
