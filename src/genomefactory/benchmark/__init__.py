"""Benchmarker: GUE, Genomic Benchmarks and custom suites swept over models × methods × seeds.

``run_benchmark(BenchmarkConfig) -> BenchmarkResult`` is the ``benchmark`` command; see :mod:`.run` for the sweep
folder layout and :mod:`.report` for how scores are aggregated.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BenchmarkConfig", "run_benchmark"]


def __getattr__(name: str) -> Any:  # lazy: importing the package must not import torch
    if name == "BenchmarkConfig":
        from .config import BenchmarkConfig

        return BenchmarkConfig
    if name == "run_benchmark":
        from .run import run_benchmark

        return run_benchmark
    raise AttributeError(name)
