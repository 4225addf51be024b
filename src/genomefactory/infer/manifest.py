"""The manifest every inference output gets: ``<output>.manifest.json`` beside it."""

from __future__ import annotations

from pathlib import Path

from ..io import write_manifest
from .config import InferenceConfig

__all__ = ["write_inference_manifest"]


def write_inference_manifest(cfg: InferenceConfig, output: Path) -> None:
    """``<output>.manifest.json`` beside the output: resolved config, versions, input SHA-256s, seed, commit."""
    inputs = {
        "embed": [cfg.embed.input],
        "generate": [cfg.generate.prompt_file or ""],
        "predict": [cfg.predict.input],
    }[cfg.mode]
    seed = {"generate": cfg.generate.seed, "embed": cfg.embed.seed}.get(cfg.mode)
    write_manifest(
        output.parent,
        cfg.model_dump(mode="json"),
        [i for i in inputs if i],
        seed,
        f"inference:{cfg.mode}",
        name=f"{output.name}.manifest.json",
    )
