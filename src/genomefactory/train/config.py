"""Config of the ``train`` command, grouped by concern (model, data, task, method, training)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config import StrictConfig
from ..models.loading import ModelConfig

__all__ = [
    "AdapterConfig",
    "DataConfig",
    "LoraConfig",
    "MethodConfig",
    "TaskConfig",
    "TrainConfig",
    "TrainingConfig",
]


class DataConfig(StrictConfig):
    """Task data: a folder with train.csv, dev.csv, test.csv."""

    path: str = Field(
        ...,
        description="Folder with train.csv, dev.csv and test.csv (columns sequence,label); a split may also be "
        "a TSV, or a FASTA with <split>.labels.csv (id,label), optionally gzipped.",
    )
    sequence_column: str | None = Field(
        None, description="Sequence column; default: 'sequence', else 'seq' (Genomic Benchmarks exports)."
    )
    label_column: str = Field("label", description="Label column (integer class or real value).")
    max_length: int | None = Field(
        None,
        ge=8,
        description="Maximum tokens per sequence (longer ones are truncated and counted in the "
        "log); default: the model's maximum.",
    )


class TaskConfig(StrictConfig):
    type: Literal["classification", "regression"] = Field(
        "classification",
        description="classification (cross-entropy, softmax probabilities) or regression (MSE).",
    )
    num_labels: int | None = Field(
        None, ge=1, description="Number of classes; default: inferred from the training labels (max + 1)."
    )


class LoraConfig(StrictConfig):
    r: int = Field(8, ge=1, description="LoRA rank.")
    alpha: float = Field(32, gt=0, description="LoRA scaling factor alpha.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: str | list[str] = Field(
        "default",
        description="'default' (the family's, paper appendix C), 'all' (every linear layer of the backbone), "
        "'all_in_and_out_proj' (attention/input-output projections), or a list of module names ('re:' prefix "
        "= regular expression).",
    )
    merge: bool = Field(False, description="Merge the LoRA weights into the backbone when saving the model.")


class AdapterConfig(StrictConfig):
    kind: Literal["mlp", "cnn"] = Field(
        "mlp", description="mlp on pooled features, or a 1-D CNN over tokens."
    )
    hidden_sizes: list[int] = Field([256], description="Hidden layer widths of the MLP (depth = length).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout between adapter layers.")
    activation: Literal["relu", "gelu", "tanh", "silu"] = Field("relu", description="Adapter activation.")
    cnn_channels: int = Field(128, ge=1, description="CNN adapter: channels of each convolution.")
    cnn_kernel_size: int = Field(9, ge=1, description="CNN adapter: kernel width in tokens.")
    cache_features: bool = Field(
        True,
        description="Compute the frozen backbone's features once per (model, dataset) and cache on disk.",
    )
    cache_dir: str | None = Field(
        None, description="Feature cache folder; default $GENOMEFACTORY_CACHE or ~/.cache/genomefactory."
    )


class MethodConfig(StrictConfig):
    name: Literal["full", "lora", "adapter"] = Field("lora", description="Fine-tuning method.")
    pooling: Literal["mean", "cls", "last", "max"] | None = Field(
        None, description="Pooling of token states into one vector (mask-aware); default: the family's."
    )
    head_dropout: float = Field(0.1, ge=0, lt=1, description="Dropout before the task head (full/LoRA).")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA settings (method: lora).")
    adapter: AdapterConfig = Field(default_factory=AdapterConfig, description="Adapter settings.")


class TrainingConfig(StrictConfig):
    epochs: float = Field(3, gt=0, description="Training epochs.")
    max_steps: int | None = Field(
        None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    batch_size: int = Field(32, ge=1, description="Per-device training batch size.")
    eval_batch_size: int = Field(64, ge=1, description="Per-device evaluation batch size.")
    learning_rate: float | None = Field(None, gt=0, description="Peak learning rate; default: the family's.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Fraction of steps of linear warm-up.")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear",
        description="Learning-rate schedule after warm-up (linear/cosine decay to 0); 'constant' has no "
        "warm-up (warmup_ratio is ignored), 'constant_with_warmup' keeps the peak rate after the warm-up.",
    )
    gradient_accumulation_steps: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0 = off).")
    precision: Literal["fp32", "fp16", "bf16"] = Field(
        "fp32", description="Training precision (fp16/bf16 on GPU)."
    )
    eval_steps: int | None = Field(
        None, ge=1, description="Evaluate (and checkpoint) every N steps; default: each epoch."
    )
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept (the best one is always kept).")
    metric_for_best: str | None = Field(
        None,
        description="Dev metric that picks the best checkpoint: accuracy, f1, precision, recall, mcc or loss "
        "(classification; default mcc), mse, mae, pearson, spearman, r2 or loss (regression; default mse). Lower "
        "is better for mse/mae/loss. Checked before training.",
    )
    logging_steps: int = Field(10, ge=1, description="Log the training loss every N steps.")
    seed: int = Field(42, description="Random seed (data order, initialisation, dropout).")
    resume: bool = Field(False, description="Continue from the last checkpoint in output_dir.")
    group_by_length: bool = Field(True, description="Length-grouped batches with dynamic padding.")
    fused_adamw: bool = Field(True, description="Use the fused AdamW kernel on GPU (ignored on CPU).")
    compile: bool = Field(False, description="torch.compile the model (worth it on GPU for long runs).")
    gradient_checkpointing: bool = Field(
        False,
        description="Recompute each backbone block's activations in backward instead of keeping them: less "
        "memory (long sequences, big batches) for about one extra forward pass. Full and LoRA methods only.",
    )


class TrainConfig(StrictConfig):
    """``genomefactory-cli train``: fine-tune a genomic foundation model on a task folder."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="Which model.")
    data: DataConfig = Field(..., description="Task data.")
    task: TaskConfig = Field(default_factory=TaskConfig, description="Task type.")
    method: MethodConfig = Field(default_factory=MethodConfig, description="Fine-tuning method.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Optimisation settings.")
    output_dir: str = Field("runs/train", description="Run directory (metrics, predictions, model, logs).")
    overwrite: bool = Field(
        False, description="Allow writing into a non-empty output_dir that is not being resumed."
    )
