"""Task dataset builders (paper E.2.3): promoter, enhancer and histone-mark datasets from a genome + annotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..config import RegionTask
from ..segment import SeqBatch


def build_region_task(task: str, cfg: RegionTask, rng: np.random.Generator) -> tuple[SeqBatch, dict[int, str], dict[str, Any], list[str | Path]]:
    """Dispatch to the builder of ``task``; returns (batch, label names, build report, input files)."""
    from . import enhancer, histone, promoter

    builders = {"promoter": promoter.build, "enhancer": enhancer.build, "histone": histone.build}
    if task not in builders:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(builders)}")
    batch, names, report = builders[task](cfg, rng)
    inputs: list[str | Path] = [p for p in (cfg.genome, cfg.annotation, cfg.signal, cfg.chrom_aliases) if p is not None]
    return batch, names, report, inputs
