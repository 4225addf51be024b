"""Config of the ``pretrain`` command (continued / domain-adaptive pre-training). Imports no torch.

Sections: ``model`` (the shared model section: published weights, ``model.path`` or ``init: random|tiny``),
``data`` (the FASTA collection, windows, held-out contigs), ``objective`` (masked or causal LM) and ``training``
(optimisation; a fixed number of optimizer steps, since windows are sampled, not enumerated).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..config import InPath, OutPath, StrictConfig
from ..models.config import ModelConfig

__all__ = ["CorpusConfig", "ObjectiveConfig", "PretrainConfig", "PretrainTrainingConfig"]


class CorpusConfig(StrictConfig):
    """The sequences to pre-train on: FASTA files of any size, read by random access, never loaded whole."""

    paths: list[InPath] = Field(
        ...,
        min_length=1,
        description="FASTA files of the collection (plain, bgzip with or without its .fai/.gzi, or plain gzip, "
        "which is decompressed once to a temporary file so it can be indexed). Record names must be unique.",
    )
    window: int = Field(512, ge=16, description="Bases per training/validation window (before tokenization).")
    val_contigs: list[str] = Field(
        [],
        description="Record names held out for validation perplexity; default: whole records drawn with the "
        "seed until val_fraction of the bases is held out (with a single record: its last val_fraction).",
    )
    val_fraction: float = Field(
        0.1, gt=0, lt=0.9, description="Share of the bases held out when val_contigs is not given."
    )
    val_windows: int = Field(
        64,
        ge=1,
        description="Validation windows: non-overlapping tiles of the held-out sequence, evenly spread.",
    )
    pack_short: bool = Field(
        True,
        description="Concatenate records shorter than a window (in file order) into full windows; false: skip them.",
    )
    rc_augment: bool = Field(
        False,
        description="Read each training window from a random strand; the targets are the reverse-complement's "
        "own tokens (for Caduceus PS the loss is strand-symmetric by construction, so this changes nothing).",
    )
    max_n_fraction: float = Field(
        0.1, ge=0, le=1, description="A sampled window with more N than this is drawn again (up to 10 tries)."
    )


class ObjectiveConfig(StrictConfig):
    """What the model learns to predict."""

    type: Literal["auto", "mlm", "clm"] = Field(
        "auto",
        description="mlm: masked-LM (encoders); clm: next-token causal LM (decoders); auto: mlm for encoders, "
        "clm for decoders.",
    )
    mask_rate: float = Field(
        0.15, gt=0, lt=1, description="mlm: share of the (non-special) tokens of a window that are predicted."
    )
    mask_token_rate: float = Field(
        0.8, ge=0, le=1, description="mlm: share of the predicted tokens replaced by the mask token."
    )
    random_token_rate: float = Field(
        0.1,
        ge=0,
        le=1,
        description="mlm: share replaced by a random token spelling as many bases (a 6-mer by a 6-mer); the "
        "rest is left unchanged.",
    )

    @model_validator(mode="after")
    def _rates(self) -> ObjectiveConfig:
        if self.mask_token_rate + self.random_token_rate > 1:
            raise ValueError(
                f"objective.mask_token_rate + objective.random_token_rate = "
                f"{self.mask_token_rate + self.random_token_rate:g} > 1; they split the predicted tokens (BERT: 0.8 + 0.1)"
            )
        return self


class PretrainTrainingConfig(StrictConfig):
    max_steps: int = Field(1000, ge=1, description="Optimizer steps (each draws fresh windows).")
    batch_size: int = Field(16, ge=1, description="Per-device windows per micro-batch.")
    eval_batch_size: int = Field(32, ge=1, description="Validation batch size.")
    learning_rate: float | None = Field(
        None,
        gt=0,
        description="Peak learning rate; default: the family's rate for published weights, its from-scratch "
        "rate for model.init tiny or random.",
    )
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Fraction of steps of linear warm-up.")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule after warm-up."
    )
    gradient_accumulation_steps: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0 = off).")
    precision: Literal["fp32", "fp16", "bf16"] = Field(
        "fp32", description="Training precision (fp16/bf16 on GPU)."
    )
    eval_steps: int | None = Field(
        None, ge=1, description="Validation perplexity every N steps; default: 10 times per run."
    )
    logging_steps: int = Field(10, ge=1, description="Log the training loss every N steps.")
    seed: int = Field(
        42, description="Seed of the windows, the masks, the initialisation and the data order."
    )


class PretrainConfig(StrictConfig):
    """``genomefactory-cli pretrain``: continue pre-training (or pre-train) a model on your own FASTA files."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="Which model to start from.")
    data: CorpusConfig = Field(..., description="The FASTA collection.")
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig, description="Training objective.")
    training: PretrainTrainingConfig = Field(
        default_factory=PretrainTrainingConfig, description="Optimisation settings."
    )
    output_dir: OutPath = Field(
        "runs/pretrain",
        description="Run directory: model/ (the checkpoint in the family's published layout, usable as "
        "model.path), metrics.json, trainer_log.jsonl, manifest.json.",
    )
    overwrite: bool = Field(False, description="Allow writing into a non-empty output_dir.")
