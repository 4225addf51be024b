"""Config of the ``benchmark`` command: suites × models × methods × seeds, shared hyper-parameters.

A *cell* of the sweep is one (suite, task, model, method, seed) fine-tuning run. Every cell is built from the
shared ``method`` and ``training`` sections, then the model entry's ``overrides`` are merged on top (e.g. the
paper's learning rate of 1e-3 for Caduceus), then validated strictly as a :class:`~genomefactory.train.config.TrainConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..config import InPath, OutPath, StrictConfig
from ..models.config import ModelConfig
from ..train.config import MethodConfig, TrainingConfig

__all__ = ["BenchmarkConfig", "BenchmarkModel", "SuiteConfig"]

MethodName = Literal["full", "lora", "adapter"]


class SuiteConfig(StrictConfig):
    """One benchmark suite of the sweep and where its data lives."""

    name: str = Field(
        "gue",
        description="Suite: gue, genomic_benchmarks, custom, or a plugin registered under the "
        "entry point group genomefactory.benchmarks.",
    )
    path: InPath | None = Field(
        None,
        description="gue: the unzipped GUE folder (or GUE.zip); genomic_benchmarks: the official interval "
        "folders (with genomes) or a local export of seq,label CSVs; custom: a folder of task folders.",
    )
    tasks: list[str] | None = Field(
        None, description="Task names or group names (e.g. EMP, tf/0); default: every task of the suite."
    )
    genomes: dict[str, InPath] = Field(
        default_factory=dict,
        description="genomic_benchmarks from intervals: genome FASTA per reference file "
        "name of metadata.yaml (e.g. Homo_sapiens.GRCh38.dna.toplevel.fa.gz: /data/GRCh38.fa); plain or bgzip.",
    )
    max_rows_per_split: int | None = Field(
        None,
        ge=2,
        description="Subsample each split to at most this many rows (seeded; smoke tests and quick "
        "looks only: scores are then not comparable with published ones).",
    )
    dev_fraction: float = Field(
        0.1,
        ge=0,
        lt=0.5,
        description="Suites without a dev split (Genomic Benchmarks): fraction of train held "
        "out as dev, with a fixed seed so every model sees the same split.",
    )
    metric: str | None = Field(
        None,
        description="Headline metric (mcc, f1, accuracy, precision, recall, mse, mae, pearson, spearman, "
        "r2); default: the suite's (GUE: mcc, f1 for virus/covid).",
    )
    task_type: Literal["classification", "regression"] = Field(
        "classification", description="custom suites: classification or regression."
    )


class BenchmarkModel(ModelConfig):
    """A model of the sweep: the model fields plus a label, allowed methods and per-model overrides."""

    label: str | None = Field(None, description="Name in the tables; default: family[-variant].")
    methods: list[MethodName] | None = Field(
        None, description="Methods for this model; default: all of the sweep's (e.g. omit full for EVO)."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Train config keys merged over the shared ones for this model, e.g. "
        "{training: {learning_rate: 1.0e-3}} (paper appendix C.2 for Caduceus).",
    )

    def display_name(self) -> str:
        if self.label:
            return self.label
        # no family: detected from model.path when loaded; the folder's name labels it
        name = self.family or Path(self.path or "model").name
        return f"{name}-{self.variant}" if self.variant else name


class BenchmarkConfig(StrictConfig):
    """``genomefactory-cli benchmark``: fine-tune and evaluate models × methods × tasks × seeds."""

    suites: list[SuiteConfig] = Field(default_factory=lambda: [SuiteConfig()], description="Suites to run.")
    models: list[BenchmarkModel] = Field(default_factory=lambda: [BenchmarkModel()], description="Models.")
    methods: list[MethodName] = Field(["full", "lora", "adapter"], description="Fine-tuning methods.")
    seeds: list[int] = Field([14, 28, 42], min_length=1, description="Seeds; each cell is run once per seed.")
    method: MethodConfig = Field(
        default_factory=MethodConfig,
        description="Shared method settings (LoRA r/alpha, adapter); name is set per cell.",
    )
    training: TrainingConfig = Field(
        default_factory=TrainingConfig, description="Shared training settings; seed is set per cell."
    )
    max_length: int | None = Field(
        None, ge=8, description="Maximum tokens per sequence; default: the model's."
    )
    output_dir: OutPath = Field(
        "runs/benchmark", description="Sweep folder: cells/, data/, reports and plot."
    )
    published_scores: list[InPath] = Field(
        default_factory=list,
        description="CSV files of published scores shown beside ours (model×task, "
        "model×suite like the paper's Table 4, or dataset×baseline).",
    )
    efficiency_csv: InPath | None = Field(
        None,
        description="Throughput/memory per model×method for the trade-off plot (columns model, method, "
        "peak_mem_gb, throughput_ktok_s); default: what the sweep measured.",
    )
    retry_failed: bool = Field(
        True, description="On a rerun, run failed cells again (finished cells are skipped)."
    )
    stop_on_error: bool = Field(
        False, description="Stop the sweep at the first failing cell instead of recording it."
    )
    keep_models: bool = Field(False, description="Keep each cell's trained model and checkpoints (large).")
