"""Config of the ``attribute`` command: per-base attributions of a fine-tuned run's predictions.

Coordinates: positions inside a sequence are 0-based half-open (``window_start`` .. ``window_end``); genome
coordinates in FASTA headers follow ``header_coordinates`` and BED files are 0-based half-open. Validation here
does no file I/O (inputs are checked when the run starts) and imports no torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...config import InPath, OutPath, StrictConfig

__all__ = ["METHOD_NAMES", "AttributeConfig", "ComputeConfig", "CoordinatesConfig", "GradientConfig"]

METHOD_NAMES = ("ism", "integrated_gradients", "input_x_gradient")


class GradientConfig(StrictConfig):
    """Settings of the gradient methods (captum, on the token-embedding layer)."""

    n_steps: int = Field(64, ge=2, description="Integrated gradients: steps of the path integral.")
    internal_batch_size: int | None = Field(
        None,
        ge=1,
        description="Integrated gradients: token rows (path points x sequences) per forward; default: "
        "compute.batch_size.",
    )


class CoordinatesConfig(StrictConfig):
    """Where the sequences lie in a genome (for bigWig tracks); none = no bigWig."""

    bed_file: InPath | None = Field(
        None,
        description="BED file of the sequences' genome coordinates (0-based half-open; strand in column 6): "
        "one row per sequence in input order (a name in column 4 must equal the record id).",
    )
    header_coordinates: Literal["bedtools", "samtools", "none"] = Field(
        "bedtools",
        description="How FASTA ids chrom:start-end[(strand)|/rc] are read: bedtools (getfasta: 0-based start, end "
        "exclusive) or samtools (faidx: 1-based, end inclusive); the span must equal the sequence length. "
        "none: ids are never read as coordinates.",
    )


class ComputeConfig(StrictConfig):
    """Batching and device."""

    batch_size: int = Field(64, ge=1, description="Token rows per forward pass (ISM mutants, gradients).")
    device: str | None = Field(None, description="cpu, cuda, cuda:1 ...; default: cuda when available.")


class AttributeConfig(StrictConfig):
    """``genomefactory-cli attribute``: attribution tracks, TF-MoDISco arrays and a report for a trained run."""

    run_dir: InPath = Field(
        ..., description="A `genomefactory-cli train` run directory (its model/ folder holds the task model)."
    )
    input: InPath = Field(
        ...,
        description="Sequences: a FASTA or CSV/TSV file (a `sequence` or `seq` column; `id` kept), or a task "
        "folder holding <split>.csv. FASTA ids like chr1:100-200 or chr1:100-200(-) give genome coordinates.",
    )
    split: str = Field("test", description="When input is a task (GUE layout): the split read, <split>.csv.")
    label_column: str | None = Field(
        "label", description="Table column carried to the outputs as each sequence's label (if present)."
    )
    methods: list[Literal["ism", "integrated_gradients", "input_x_gradient"]] = Field(
        ["ism"], min_length=1, description="Attribution methods: ism, integrated_gradients, input_x_gradient."
    )
    target: int | None = Field(
        None,
        ge=0,
        description="Classification: the class whose log-odds are explained (default: the last class).",
    )
    window_start: int = Field(
        0, ge=0, description="First position (0-based, in each sequence) whose attributions are kept."
    )
    window_end: int | None = Field(
        None, ge=1, description="End (exclusive) of the kept positions; default: the sequence end."
    )
    max_sequences: int | None = Field(None, ge=1, description="Attribute only the first N sequences.")
    gradient: GradientConfig = Field(
        default_factory=GradientConfig, description="Settings of integrated_gradients / input_x_gradient."
    )
    coordinates: CoordinatesConfig = Field(
        default_factory=CoordinatesConfig, description="Genome coordinates of the sequences (bigWig output)."
    )
    compute: ComputeConfig = Field(default_factory=ComputeConfig, description="Batching and device.")
    report_top: int = Field(
        6, ge=0, description="Sequences plotted in the report (largest explained score first)."
    )
    output_dir: OutPath = Field("attributions", description="Output folder (created; must be empty).")
    overwrite: bool = Field(False, description="Write into a non-empty output_dir.")

    @model_validator(mode="after")
    def _window(self) -> AttributeConfig:
        if self.window_end is not None and self.window_end <= self.window_start:
            raise ValueError(
                f"window_end ({self.window_end}) must be larger than window_start ({self.window_start})"
            )
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods lists a method twice: {self.methods}")
        return self
