"""Configuration of the ``inference`` command: ``mode: predict | embed | generate`` with one sub-section each.

The dispatcher ``run_inference`` lives in :mod:`genomefactory.infer.run` (this module holds only the config classes,
so ``inference --help`` imports nothing heavy). Sequences follow :mod:`genomefactory.sequence` (upper-case IUPAC).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config import InPath, OutPath, StrictConfig
from ..models.config import ModelConfig

__all__ = ["EmbedConfig", "GenerateConfig", "InferenceConfig", "PredictConfig"]

Precision = Literal["auto", "fp32", "bf16", "fp16"]


class EmbedConfig(StrictConfig):
    """Embedding extraction (``mode: embed``)."""

    input: InPath = Field(
        "",
        description="FASTA (.fa .fasta .fna .fas .ffn .fsa) or CSV/TSV (.csv .tsv .tab) with a `sequence` "
        "(or `seq`) column, optionally gzipped; ids: the FASTA header's first word, the `id` column, else "
        "row<N>; other columns are kept as metadata.",
    )
    output: OutPath = Field(
        "embeddings.parquet",
        description="Output file: .parquet (default), .npy (+ <name>.index.csv) "
        "or .csv (one column per dimension; the layout `sae_regression` reads).",
    )
    pooling: Literal["mean", "cls", "last", "max", "token"] = Field(
        "mean",
        description="mean (over real tokens), cls (first token), last (last token), max, or token "
        "(no pooling: one vector per token).",
    )
    layer: int = Field(
        -1,
        description="Hidden layer to read: -1 = final hidden state; 0 = embeddings; "
        "i = output of block i; negative counts from the end.",
    )
    batch_size: int = Field(
        16, ge=1, description="Sequences (windows) per forward pass; batches are grouped by length."
    )
    chunk_size: int = Field(
        512,
        ge=1,
        description="Sequences read, embedded and written per chunk "
        "(bounds memory; each chunk is one resumable part).",
    )
    window_tokens: int | None = Field(
        None,
        ge=8,
        description="Tokens per window for sequences longer than this "
        "(default: the model's maximum input length).",
    )
    window_overlap: float = Field(
        0.25, ge=0.0, lt=0.9, description="Overlap of consecutive windows, as a fraction of the window."
    )
    precision: Precision = Field("auto", description="auto: bf16 on a GPU that supports it, else fp32.")
    device: str | None = Field(None, description="cpu, cuda, cuda:1 ...; default: cuda when available.")
    keep_sequence: bool = Field(True, description="Store each sequence in the output (needed by readouts).")
    resume: bool = Field(True, description="Skip sequences already written by an interrupted run.")
    seed: int = Field(0, description="Seed of the weights when model.init is random or tiny.")
    progress: bool = Field(True, description="Show a progress bar.")


class GenerateConfig(StrictConfig):
    """Sequence generation with a decoder (``mode: generate``)."""

    prompts: list[str] = Field(default_factory=list, description="DNA prompts (upper-case IUPAC).")
    prompt_file: InPath | None = Field(None, description="FASTA of prompts (added to `prompts`).")
    output: OutPath = Field(
        "generated.fasta", description="Output FASTA; the header holds the prompt and settings."
    )
    max_new_tokens: int = Field(64, ge=1, description="Tokens to generate per sample.")
    num_samples: int = Field(1, ge=1, description="Samples per prompt.")
    greedy: bool = Field(False, description="Greedy decoding (ignores temperature, top_k, top_p).")
    temperature: float = Field(1.0, gt=0.0, description="Sampling temperature.")
    top_k: int = Field(0, ge=0, description="Sample among the k most likely tokens (0 = off).")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling threshold (1.0 = off).")
    seed: int = Field(42, description="Random seed; the same seed gives the same sequences.")
    batch_size: int = Field(8, ge=1, description="Prompts per batch.")
    include_prompt: bool = Field(
        False, description="Write prompt + continuation instead of the continuation."
    )
    precision: Precision = Field("auto", description="auto: bf16 on a GPU that supports it, else fp32.")
    device: str | None = Field(None, description="cpu, cuda ...; default: cuda when available.")


class PredictConfig(StrictConfig):
    """Prediction with a fine-tuned run (``mode: predict``); owned by the trainer's inference code."""

    input: InPath = Field(
        "",
        description="Sequences to predict: FASTA, or CSV/TSV with a `sequence` (or `seq`) column, optionally "
        "gzipped (read like embed.input).",
    )
    output: OutPath = Field(
        "predictions.csv",
        description="Predictions CSV (per-base runs: comma-separated per-base predictions per row).",
    )
    batch_size: int = Field(32, ge=1, description="Sequences per forward pass.")
    bigwig_path: OutPath | None = Field(
        None,
        description="Per-base runs: also write this bigWig file on the reference, from the input's chrom, "
        "start (0-based) and strand columns.",
    )
    bigwig_class: int = Field(
        1, ge=0, description="Per-base classification: the class whose probability the bigWig holds."
    )


class InferenceConfig(StrictConfig):
    """``genomefactory-cli inference``: predict with a trained run, extract embeddings, or generate sequences."""

    mode: Literal["predict", "embed", "generate"] = Field("embed", description="What to do.")
    model: ModelConfig = Field(
        default_factory=ModelConfig,
        description="The model (family, variant/path, init); "
        "`path` may be a genomefactory training run directory.",
    )
    embed: EmbedConfig = Field(default_factory=EmbedConfig, description="Settings of mode: embed.")
    generate: GenerateConfig = Field(
        default_factory=GenerateConfig, description="Settings of mode: generate."
    )
    predict: PredictConfig = Field(default_factory=PredictConfig, description="Settings of mode: predict.")

    def output_paths(self) -> list[str]:
        """Only the chosen mode's section writes (the other two keep their defaults, unused)."""
        section: StrictConfig = getattr(self, self.mode)
        return section.output_paths()
