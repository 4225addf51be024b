"""Registry of variant scores (``genomefactory.plugins.Registry``, entry-point group ``genomefactory.variant_scores``).

Built-ins: ``masked_marginal`` (encoders with an MLM head), ``loglik`` (causal decoders), ``embedding`` (any model),
``finetuned`` (a ``genomefactory-cli train`` run directory). A plugin registers a
:class:`~genomefactory.variants.scores.base.VariantScore` instance::

    [project.entry-points."genomefactory.variant_scores"]
    my_score = "my_pkg.scores:MY_SCORE"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...config import ConfigError
from ...plugins import Registry
from .base import ScoreBlock, VariantScore

if TYPE_CHECKING:
    from ..engine import ModelHandle

__all__ = ["SCORES", "ScoreBlock", "ScoreUnavailableError", "VariantScore", "resolve_scores"]

SCORES: Registry[VariantScore] = Registry(
    "variant score",
    "genomefactory.variant_scores",
    builtins=(
        "genomefactory.variants.scores.masked",
        "genomefactory.variants.scores.likelihood",
        "genomefactory.variants.scores.embedding",
        "genomefactory.variants.scores.finetuned",
    ),
)


class ScoreUnavailableError(ConfigError):
    """A requested score cannot be computed with the configured model (checked before any work)."""


def auto_score(handle: ModelHandle) -> str:
    """The default score of a model: finetuned for a run directory, loglik for decoders, else masked_marginal."""
    if handle.task is not None:
        return "finetuned"
    if handle.is_decoder:
        return "loglik"
    if handle.mask_id is not None and handle.has_lm_head():
        return "masked_marginal"
    return "embedding"


def resolve_scores(names: list[str], handle: ModelHandle, model_desc: str) -> list[VariantScore]:
    """The score objects for ``names`` ("auto" expanded); one clear error if any of them is unavailable."""
    out: list[VariantScore] = []
    for name in names:
        key = auto_score(handle) if name == "auto" else name
        if key not in SCORES:
            raise ScoreUnavailableError(f"scores: {SCORES.unknown_message(key)}")
        score = SCORES.get(key)
        why = score.unavailable(handle)
        if why is not None:
            raise ScoreUnavailableError(f"scores: {score.name} is unavailable for {model_desc}: {why}")
        if score not in out:
            out.append(score)
    return out
