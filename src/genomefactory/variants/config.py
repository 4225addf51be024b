"""Config of the ``variants`` command: score variant effects with a model (and evaluate labelled sets).

Coordinates follow DESIGN.md: the input's positions are 1-based (VCF, and the TSV ``pos`` column); everything
inside is 0-based half-open. Validation here does no file I/O (files are checked when the run starts).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..config import InPath, OutPath, StrictConfig
from ..models.config import ModelConfig

__all__ = ["ComputeConfig", "EmbeddingScoreConfig", "EvaluateConfig", "VariantsConfig", "WindowConfig"]

Precision = Literal["auto", "fp32", "bf16", "fp16"]


class WindowConfig(StrictConfig):
    """The reference window each variant is scored in (bases of the genome, reference orientation)."""

    size: int = Field(
        500,
        ge=1,
        description="Window length in bases. SNVs: the reference window; indels/MNVs: left flank + REF + right "
        "flank = size (the ALT window is size - len(REF) + len(ALT) long). Clipped at contig ends.",
    )
    tile: int | None = Field(
        None,
        ge=1,
        description="SNVs in the same tile of this many bases share one reference window centred on the tile "
        "(computed once) for the loglik, embedding and finetuned scores; 1 = every SNV gets its own centred "
        "window. masked_marginal always centres the window on the variant. At most size/2; default "
        "size/8 (at most 64).",
    )
    special_tokens: bool = Field(
        True,
        description="Add the tokenizer's special tokens ([CLS], [SEP], <cls>) to every window. false feeds "
        "bases only: with an RC-equivariant model (Caduceus PS) forward and RC scores are then exactly equal. "
        "The finetuned score always tokenizes as in training.",
    )

    @property
    def tile_bases(self) -> int:
        """The tile width in use (``tile``, or its default)."""
        return self.tile if self.tile is not None else max(1, min(64, self.size // 8))

    @model_validator(mode="after")
    def _tile_fits(self) -> WindowConfig:
        if self.tile is not None and self.tile > max(self.size // 2, 1):
            raise ValueError(
                f"window.tile ({self.tile}) must be at most window.size/2 ({self.size // 2}) so every SNV of a "
                "tile keeps context on both sides; lower window.tile or raise window.size"
            )
        return self


class EmbeddingScoreConfig(StrictConfig):
    """Settings of the ``embedding`` score (distance between pooled REF and ALT window embeddings)."""

    metrics: list[Literal["cosine", "l2"]] = Field(
        ["cosine", "l2"], min_length=1, description="cosine: 1 - cos(e_ref, e_alt); l2: ||e_alt - e_ref||."
    )
    layers: list[int] = Field(
        [-1],
        min_length=1,
        description="Hidden layers to compare: -1 = final hidden state, 0 = embeddings, i = output of block i.",
    )
    pooling: Literal["mean", "cls", "last", "max"] | None = Field(
        None, description="Pooling of token states (mask-aware); default: the family's."
    )


class ComputeConfig(StrictConfig):
    """How the work is run: batching, chunking, device, resuming."""

    batch_size: int = Field(32, ge=1, description="Windows per forward pass (length-grouped, padded).")
    chunk_size: int = Field(
        2000,
        ge=1,
        description="Input records scored and written per chunk (each chunk is one resumable part).",
    )
    precision: Precision = Field("fp32", description="fp32, bf16, fp16 (GPU), or auto (bf16 on a GPU).")
    device: str | None = Field(None, description="cpu, cuda, cuda:1 ...; default: cuda when available.")
    seed: int = Field(0, description="Seed of the weights when model.init is random or tiny.")
    resume: bool = Field(True, description="Skip records an interrupted run already wrote (same settings).")
    progress: bool = Field(True, description="Show a progress bar.")


class EvaluateConfig(StrictConfig):
    """Labelled variant sets: AUROC / AUPRC per score and plots (runs when a label source is set)."""

    label_column: str | None = Field(None, description="TSV input: the column holding each variant's label.")
    label_info: str | None = Field(None, description="VCF input: the INFO key holding each variant's label.")
    positive_label: str = Field(
        "1", description="The label value of the positive class (labels must take exactly two values)."
    )
    orientation: dict[str, Literal["+", "-", "abs"]] = Field(
        default_factory=dict,
        description="Per score output, how its value maps to 'effect' (higher effect = positive class): "
        "'+' value, '-' minus value, 'abs' |value|. Default: each score's own (see the README).",
    )
    plots: bool = Field(True, description="Write score-distribution and ROC plots (PNG, matplotlib).")


class VariantsConfig(StrictConfig):
    """``genomefactory-cli variants``: score the effect of variants with a model, optionally evaluate them."""

    model: ModelConfig = Field(
        default_factory=ModelConfig,
        description="The model (family, variant/path, init); `path` may be a `genomefactory-cli train` run "
        "directory (enables the finetuned score).",
    )
    input: InPath = Field(
        ...,
        description="Variants: VCF/BCF (.vcf, .vcf.gz, .bcf) or a TSV with columns chrom, pos, ref, alt "
        "(pos 1-based as in VCF; alt may list several alleles separated by commas).",
    )
    genome: InPath = Field(
        ...,
        description="Reference FASTA (plain, or bgzipped with its .fai/.gzi); a missing .fai of a plain FASTA "
        "is built beside it.",
    )
    output: OutPath | None = Field(
        None,
        description="Output: .vcf / .vcf.gz (VCF input only: INFO fields added; .vcf.gz is bgzipped and "
        "tabix-indexed), .parquet, .tsv or .csv (one row per variant, allele and score). Default: "
        "<input>.scored.vcf[.gz] for VCF input, <input>.scores.parquet for TSV.",
    )
    scores: list[str] = Field(
        ["auto"],
        min_length=1,
        description="Scores to compute: masked_marginal (encoders with an MLM head), loglik (decoders), "
        "embedding (any model), finetuned (a train run directory); auto = finetuned for a run directory, "
        "else loglik for decoders, else masked_marginal.",
    )
    rc_average: bool = Field(
        False, description="Average every score over the forward and reverse-complement windows."
    )
    chrom_names: Literal["exact", "add_chr", "strip_chr"] = Field(
        "exact",
        description="How input chromosome names map to genome contig names: exact (never guessed), add_chr "
        "('1' -> 'chr1'), strip_chr ('chr1' -> '1').",
    )
    chrom_map: dict[str, str] = Field(
        default_factory=dict, description="Explicit input-name -> contig-name pairs (applied first)."
    )
    window: WindowConfig = Field(default_factory=WindowConfig, description="Scoring windows.")
    embedding: EmbeddingScoreConfig = Field(
        default_factory=EmbeddingScoreConfig, description="Settings of the embedding score."
    )
    compute: ComputeConfig = Field(default_factory=ComputeConfig, description="Batching, device, resume.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Labelled-set evaluation.")
    info_prefix: str = Field(
        "GF_",
        pattern=r"^[A-Za-z_][0-9A-Za-z_.]*$",
        description="Prefix of the INFO keys added to a VCF output.",
    )
