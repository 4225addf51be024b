"""Attributions of fine-tuned runs (ISM, integrated gradients, input x gradient), motif discovery (TF-MoDISco),
motif matching (TOMTOM against JASPAR or a MEME file), logos and a report; ``genomefactory-cli attribute``."""

from __future__ import annotations

from .base import METHODS, AttributionResult, Method, one_hot
from .predictor import Predictor, load_predictor

__all__ = ["METHODS", "AttributionResult", "Method", "Predictor", "attribute", "load_predictor", "one_hot"]


def _load_methods() -> None:
    from . import gradients, ism  # noqa: F401  (registers the methods)


def attribute(pred: Predictor, seqs: list[str], method: str, cfg: object | None = None) -> AttributionResult:
    """Attributions of ``seqs`` by one registered method (``ism``, ``integrated_gradients``,
    ``input_x_gradient``)."""
    _load_methods()
    if method not in METHODS:
        from ...errors import DataError

        raise DataError(f"unknown attribution method {method!r}; methods: {', '.join(sorted(METHODS))}")
    return METHODS[method].compute(pred, seqs, cfg)
