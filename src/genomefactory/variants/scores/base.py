"""The contract of a variant score (built-ins and plugins of the ``genomefactory.variant_scores`` group).

A score gets the windows of many alleles at once (:class:`~genomefactory.variants.windows.AlleleWindow`, already in
the orientation to score: the run calls it once on the forward windows and, with ``rc_average``, once on their
reverse complements, and averages) and returns one value per allele for each of its outputs, plus a status per
allele (``ok`` or why it could not be scored). It runs its forward passes through
:meth:`~genomefactory.variants.engine.ModelHandle.batched`, which computes each distinct token sequence once.

``orientation`` says how a value maps to "effect" in evaluation (higher effect = positive label): ``"-"`` for
log-likelihood ratios (ALT less likely than REF = larger effect), ``"+"`` for distances, ``"abs"`` for signed
changes of a prediction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..config import VariantsConfig
    from ..engine import ModelHandle
    from ..windows import AlleleWindow

__all__ = ["ScoreBlock", "VariantScore"]


@dataclass
class ScoreBlock:
    """Values of one score for ``n`` alleles: ``values[output]`` is (n,) float64, NaN where not scored."""

    values: dict[str, np.ndarray]
    status: list[str]

    @classmethod
    def empty(cls, outputs: list[str], n: int) -> ScoreBlock:
        return cls({o: np.full(n, np.nan) for o in outputs}, ["ok"] * n)

    def fail(self, i: int, status: str) -> None:
        self.status[i] = status
        for v in self.values.values():
            v[i] = np.nan


class VariantScore(ABC):
    """One registered score; subclasses set the class attributes and implement the three methods."""

    name: ClassVar[str]
    description: ClassVar[str]
    orientation: ClassVar[str] = "-"
    snv_only: ClassVar[bool] = False  # indels / MNVs get status not_snv
    centred: ClassVar[bool] = False  # True: a window centred on each variant (tile 1) instead of shared tiles

    @abstractmethod
    def unavailable(self, handle: ModelHandle) -> str | None:
        """Why this score cannot be computed with ``handle`` (one sentence), or None when it can."""

    @abstractmethod
    def outputs(self, handle: ModelHandle, cfg: VariantsConfig) -> list[str]:
        """Names of the values this score produces (one output row each per allele)."""

    @abstractmethod
    def compute(self, handle: ModelHandle, items: list[AlleleWindow], cfg: VariantsConfig) -> ScoreBlock:
        """Values for each window (NaN and a status where an allele cannot be scored)."""
