"""Task dataset builders (paper E.2.3): promoter, enhancer and histone-mark datasets from a genome + annotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..config import RegionTask
from ..segment import SeqBatch


def build_region_task(
    task: str, cfg: RegionTask, rng: np.random.Generator, output_dir: Path = Path(".")
) -> tuple[SeqBatch, dict[int, str], dict[str, Any], list[str | Path]]:
    """Fetch named sources (cached), then run the builder of ``task``; returns (batch, names, report, input files)."""
    from ..sources import resolve_region
    from . import enhancer, histone, promoter

    builders = {"promoter": promoter.build, "enhancer": enhancer.build, "histone": histone.build}
    if task not in builders:
        raise DataError(f"unknown task {task!r}; choose from {', '.join(builders)}")
    local, sources = resolve_region(task, cfg, output_dir)
    batch, names, report = builders[task](local, rng)
    report["sources"] = sources
    inputs: list[str | Path] = [
        p for p in (local.genome, local.annotation, local.signal, local.chrom_aliases) if p is not None
    ]
    return batch, names, report, inputs
