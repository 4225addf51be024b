"""Configs of the Biological Interpreter: ``sae_train`` and ``sae_regression`` (paper §3.6, appendix E.5)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config import InPath, OutPath, StrictConfig
from ..models.config import ModelConfig
from .motifs.config import MotifDBConfig

__all__ = ["ReadoutSpec", "SAEConfig", "SAERegressionConfig", "SAETrainConfig", "UnitMotifsConfig"]


class SAEConfig(StrictConfig):
    """Architecture and sparsity of the sparse auto-encoder."""

    d_model: int | None = Field(
        None, description="Embedding width; read from the embeddings (checked if given)."
    )
    d_hidden: int = Field(4096, ge=1, description="Number of latent units (the paper uses 4096).")
    activation: Literal["topk", "relu"] = Field(
        "topk", description="topk: keep the k largest latents; relu: ReLU latents with an L1 penalty."
    )
    k: int = Field(32, ge=1, description="Active latents per input (activation: topk).")
    l1_coeff: float = Field(1e-3, ge=0.0, description="L1 penalty on latents (activation: relu).")
    normalize: bool = Field(True, description="Centre inputs and scale them to mean squared norm d_model.")
    aux_k: int = Field(256, ge=0, description="Dead latents used by the auxiliary loss (0 disables it).")
    aux_coeff: float = Field(
        1 / 32,
        ge=0.0,
        description="Weight of the auxiliary loss (reconstruct the "
        "residual from dead latents, so they receive gradient).",
    )
    dead_steps: int = Field(200, ge=1, description="A latent that has not fired for this many steps is dead.")


class SAETrainConfig(StrictConfig):
    """``genomefactory-cli sae_train``: train an SAE on embeddings (a file, or computed from sequences)."""

    embeddings: InPath | None = Field(
        None, description="Embedding file written by `inference` (mode: embed)."
    )
    data_file: InPath | None = Field(
        None, description="Sequences (FASTA/CSV) to embed on the fly with `model`."
    )
    model: ModelConfig = Field(default_factory=ModelConfig, description="Model for data_file.")
    level: Literal["token", "pooled"] = Field(
        "token",
        description="For data_file: train on every token's "
        "embedding (token) or on mean-pooled sequence embeddings (pooled).",
    )
    layer: int = Field(-1, description="For data_file: hidden layer (-1 = final).")
    sae: SAEConfig = Field(default_factory=SAEConfig, description="SAE architecture.")
    steps: int = Field(2000, ge=1, description="Optimizer steps.")
    batch_size: int = Field(256, ge=1, description="Embedding vectors per step.")
    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate.")
    seed: int = Field(0, description="Random seed.")
    device: str | None = Field(None, description="cpu, cuda ...; default: cuda when available.")
    output: OutPath = Field(
        "sae", description="Output directory (sae.safetensors, sae_config.json, metrics.json)."
    )
    overwrite: bool = Field(
        False,
        description="Write into an output directory that already holds files (an earlier SAE is replaced); "
        "without it a non-empty output is refused.",
    )


class ReadoutSpec(StrictConfig):
    """One readout: a value per sequence to relate to latent units."""

    kind: Literal["length", "gc", "motif", "pwm", "kmer", "column", "jaspar"] = Field(
        description="length, gc, motif (IUPAC count), pwm (JASPAR file), kmer, column, "
        "jaspar (FIMO scan of a JASPAR motif by id)."
    )
    name: str | None = Field(None, description="Name in the report (default derived from the spec).")
    motif: str | None = Field(None, description="IUPAC motif (kind: motif), e.g. TATAWAWR.")
    pwm_file: InPath | None = Field(None, description="JASPAR-format matrix file (kind: pwm).")
    threshold: float = Field(0.8, ge=0.0, le=1.0, description="PWM hit: relative score >= threshold.")
    k: int = Field(2, ge=1, le=4, description="k-mer size (kind: kmer): one readout per k-mer, frequencies.")
    column: str | None = Field(
        None, description="Column of the embeddings file or of readouts_csv (kind: column)."
    )
    both_strands: bool = Field(True, description="Count motif/PWM hits on both strands.")
    jaspar_id: str | None = Field(
        None, description="JASPAR matrix id or TF name (kind: jaspar), e.g. MA0139.2 or CTCF."
    )
    jaspar_release: str = Field("JASPAR2024", description="JASPAR release (kind: jaspar).")
    statistic: Literal["presence", "count", "max_score"] = Field(
        "presence",
        description="kind: jaspar: 1/0 FIMO hit (p < p_threshold), number of hits, or best log-odds score.",
    )
    p_threshold: float = Field(1e-4, gt=0.0, lt=1.0, description="FIMO hit p-value (kind: jaspar).")


class UnitMotifsConfig(StrictConfig):
    """Unit -> motif naming in ``sae_regression``: each top unit's top-activating windows, their logo and TOMTOM
    matches. Needs per-token embeddings (``inference`` with ``embed.pooling: token`` and ``keep_sequence``) of a
    one-token-per-base tokenizer (HyenaDNA, Caduceus, Evo, character hf_auto models)."""

    enabled: bool = Field(
        False, description="Describe the top units by the motif of their strongest windows."
    )
    top_units: int = Field(
        10, ge=1, description="Units described: those with the largest |Pearson r| over any readout."
    )
    windows: int = Field(50, ge=1, description="Top-activating windows per unit (at most one per sequence).")
    width: int = Field(15, ge=3, description="Window width in bases, centred on the unit's strongest token.")
    leading_tokens: int = Field(
        0,
        ge=0,
        description="Special tokens before the first base in the embeddings (1 for a <cls> prefix); tokens "
        "after the last base ([SEP], <eos>) are ignored.",
    )
    top_matches: int = Field(5, ge=1, description="TOMTOM matches reported per unit.")
    database: MotifDBConfig = Field(
        default_factory=MotifDBConfig,
        description="Motif database (JASPAR release / collection / taxon, or a MEME file).",
    )


class SAERegressionConfig(StrictConfig):
    """``genomefactory-cli sae_regression``: link SAE latent units to readouts (paper appendix E.5)."""

    embeddings: InPath = Field(
        description="Embedding file (Parquet/npy/CSV) written by `inference` (mode: embed)."
    )
    sae_checkpoint: InPath = Field(description="Directory written by `sae_train`.")
    type: Literal["first_token", "mean"] = Field(
        "mean",
        description="Per-token embeddings: latents of the first token, or mean of the tokens' latents.",
    )
    readouts: list[ReadoutSpec] = Field(
        default_factory=lambda: [ReadoutSpec(kind="length"), ReadoutSpec(kind="gc")],
        description="Readouts to test (default: length and GC).",
    )
    readouts_csv: InPath | None = Field(
        None, description="Extra CSV with an `id` column, for kind: column readouts."
    )
    fdr: float = Field(0.05, gt=0.0, lt=1.0, description="Benjamini–Hochberg false discovery rate.")
    top_units: int = Field(10, ge=1, description="Units reported per readout.")
    top_sequences: int = Field(5, ge=1, description="Top-activating sequences reported per top unit.")
    cv_folds: int = Field(5, ge=2, description="Cross-validation folds of the ridge regression.")
    seed: int = Field(0, description="Seed of the cross-validation split.")
    figures: bool = Field(True, description="Write PNG figures (correlation bars, scatter, histograms).")
    unit_motifs: UnitMotifsConfig = Field(
        default_factory=UnitMotifsConfig, description="Name top units by motif (logos, TOMTOM matches)."
    )
    output: OutPath = Field(
        "interpretation",
        description="Output directory (report.md/html, interpretation.json, figures, logos).",
    )
