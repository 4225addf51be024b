"""Config of ``per_base_data``: per-base task windows from a genome + annotation, or a genome + bigWig signal.

Coordinates are 0-based half-open inside (GTF/GFF are converted at the reader); see ``collect/tasks/per_base.py``
for the classes and the window layout. No file I/O here (checks that need files run when the command starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..config import InPathlib, OutPathlib, StrictConfig
from .config import SplitConfig

__all__ = ["PerBaseDataConfig"]


class PerBaseDataConfig(StrictConfig):
    """``genomefactory-cli per_base_data``: windows with a label per base (gene structure or a signal track)."""

    genome: InPathlib = Field(
        ...,
        description="Genome file: GenBank (.gb/.gbk, sequence and features together) or FASTA (optionally "
        "gzipped) with an annotation or a signal file.",
    )
    annotation: InPathlib | None = Field(
        None,
        description="GTF or GFF3 file of a FASTA genome (exon rows, else CDS, grouped by transcript); chromosome "
        "names must match the FASTA's.",
    )
    signal: InPathlib | None = Field(
        None,
        description="bigWig file: per-base regression labels (its values) instead of gene-structure classes.",
    )
    output_dir: OutPathlib = Field(
        Path("per_base_task"), description="Task folder written: train/dev/test.tsv."
    )
    window: int = Field(1000, ge=8, description="Window length in bases.")
    stride: int | None = Field(
        None, ge=1, description="Step between window starts; default: the window length."
    )
    strands: Literal["+", "both"] = Field(
        "+",
        description="'+': windows read as stored; 'both': also each window's reverse complement (strand '-', "
        "labels reversed; sense/antisense classes follow the window's strand).",
    )
    max_intron: int = Field(
        20000,
        ge=1,
        description="A gap between consecutive exons of one feature longer than this (e.g. trans-splicing) is "
        "not an intron.",
    )
    max_n_fraction: float = Field(0.1, ge=0, le=1, description="Drop windows with more N than this.")
    group_windows: int = Field(
        10, ge=1, description="Adjacent windows that move to the same split together (limits leakage)."
    )
    split: SplitConfig = Field(default_factory=SplitConfig, description="Split fractions (of window groups).")
    seed: int = Field(0, description="Seed of the split.")
    overwrite: bool = Field(False, description="Allow writing into a non-empty output_dir.")

    @model_validator(mode="after")
    def _one_label_source(self) -> PerBaseDataConfig:
        if self.annotation is not None and self.signal is not None:
            raise ValueError("give annotation (gene-structure classes) or signal (bigWig values), not both")
        return self
