"""The ``inference`` command: dispatch ``mode: predict | embed | generate`` to its implementation.

Each mode's module is imported only when that mode runs, so one mode's dependencies never load for another.
"""

from __future__ import annotations

from typing import Any

from .config import InferenceConfig

__all__ = ["run_inference"]


def run_inference(cfg: InferenceConfig) -> Any:
    """Run the configured mode; returns that mode's result object (``EmbeddingResult``, ``GenerationResult`` ...)."""
    if cfg.mode == "embed":
        from .embed import run_embed

        return run_embed(cfg)
    if cfg.mode == "generate":
        from .generate import run_generate

        return run_generate(cfg)
    from .predict import run_predict

    return run_predict(cfg)
