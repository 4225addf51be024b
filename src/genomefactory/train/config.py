"""Config of the ``train`` command, grouped by concern (model, data, task, method, training).

``method`` has the shared keys (``name``, ``pooling``, ``head_dropout``) and one section per registered tuning
method that has settings (``method.lora``, ``method.adapter``: each method's ``config_class``, found through the
method registry, ``train/methods/registry.py``), so adding a method adds its keys here, to ``--help`` and to the
web UI without editing this file. ``method.name`` is checked against the registry: a typo names the closest
method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model, field_serializer, field_validator

from ..config import InPath, OutPath, StrictConfig
from ..models.config import ModelConfig
from .methods.adapter import AdapterConfig
from .methods.lora import LoraConfig
from .methods.registry import METHODS, get_method, method_names
from .sharding import DeepSpeedConfig, FsdpConfig

__all__ = [
    "AdapterConfig",
    "DataConfig",
    "DeepSpeedConfig",
    "FsdpConfig",
    "LoraConfig",
    "MethodConfig",
    "MethodSettings",
    "TaskConfig",
    "TrainConfig",
    "TrainingConfig",
]


class DataConfig(StrictConfig):
    """Task data: a folder with train.csv, dev.csv, test.csv."""

    path: InPath = Field(
        ...,
        description="Folder with train.csv, dev.csv and test.csv (columns sequence,label); a split may also be "
        "a TSV, or a FASTA with <split>.labels.csv (id,label), optionally gzipped.",
    )
    sequence_column: str | None = Field(
        None, description="Sequence column; default: 'sequence', else 'seq' (Genomic Benchmarks exports)."
    )
    label_column: str = Field(
        "label",
        description="Label column (integer class or real value; per-base tasks: one comma-separated label per "
        "base, '.' = none).",
    )
    max_length: int | None = Field(
        None,
        ge=8,
        description="Maximum tokens per sequence (longer ones are truncated and counted in the "
        "log); default: the model's maximum.",
    )


class TaskConfig(StrictConfig):
    type: Literal["classification", "regression", "per_base_classification", "per_base_regression"] = Field(
        "classification",
        description="classification (cross-entropy, softmax probabilities) or regression (MSE), one label per "
        "sequence; per_base_classification / per_base_regression: one label per base (the label column holds "
        "comma-separated per-base labels, '.' = none; k-mer/BPE bases take their token's output).",
    )
    num_labels: int | None = Field(
        None, ge=1, description="Number of classes; default: inferred from the training labels (max + 1)."
    )


def _choices(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class MethodSettings(StrictConfig):
    """The fields every method shares; :data:`MethodConfig` adds each registered method's section."""

    name: str = Field("lora", description="Fine-tuning method.")
    pooling: Literal["mean", "cls", "last", "max"] | None = Field(
        None, description="Pooling of token states into one vector (mask-aware); default: the family's."
    )
    head_dropout: float = Field(0.1, ge=0, lt=1, description="Dropout before the task head (full/LoRA).")

    @field_validator("name", mode="plain")
    @classmethod
    def _registered(cls, value: Any) -> str:
        # checked against the registry when validated (not when the class was built), so a method registered
        # later in the process is accepted too; an unknown name gets the closest registered one
        if not isinstance(value, str):
            raise ValueError(f"the method name must be a string, not {type(value).__name__}")
        if value not in METHODS:
            close = METHODS.closest(value)
            hint = f" Did you mean '{close}'?" if close else ""
            raise ValueError(f"unknown tuning method {value!r}.{hint} Choose {_choices(method_names())}")
        return get_method(value).name

    @field_serializer("name")
    def _plain_name(self, value: str) -> str:
        return value  # a plugin method registered at run time is not in the class's Literal of choices


def _method_config() -> type[MethodSettings]:
    """``MethodConfig``: ``name`` offers the methods registered now (a Literal, so --help and the web UI show
    the choices), then one section per method with settings (``method.lora``, ``method.adapter`` ...)."""
    names = method_names()
    fields: dict[str, Any] = {
        "name": (Literal[tuple(names)], Field("lora", description="Fine-tuning method.")),
    }
    for name in names:
        method = get_method(name)
        if method.config_class is not None:
            help_text = method.section_help or f"{method.title or name} settings (method: {name})."
            fields[method.section_name()] = (
                method.config_class,
                Field(default_factory=method.config_class, description=help_text),
            )
    return create_model(  # type: ignore[no-any-return, call-overload]
        "MethodConfig",
        __base__=MethodSettings,
        __module__=__name__,
        __doc__="How the model is fine-tuned: the method's name, pooling, head dropout and per-method settings.",
        **fields,
    )


if TYPE_CHECKING:
    MethodConfig = MethodSettings
else:
    MethodConfig = _method_config()


class TrainingConfig(StrictConfig):
    epochs: float = Field(3, gt=0, description="Training epochs.")
    max_steps: int | None = Field(
        None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    batch_size: int = Field(32, ge=1, description="Per-device training batch size.")
    eval_batch_size: int = Field(64, ge=1, description="Per-device evaluation batch size.")
    learning_rate: float | None = Field(
        None,
        gt=0,
        description="Peak learning rate; default: the family's fine-tuning rate for published weights, "
        "1e-3 for a model trained from scratch (model.init tiny or random).",
    )
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
        "(classification; default mcc), mse, mae, pearson, spearman, r2 or loss (regression; default mse); per-base "
        "tasks add auprc (classification) and pearson_window, spearman_window (regression). Lower is better for "
        "mse/mae/loss. Checked before training.",
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
    distributed: Literal["ddp", "fsdp", "deepspeed"] = Field(
        "ddp",
        description="How several processes (torchrun / accelerate launch) share the work: ddp (every rank holds "
        "the whole model), fsdp (FSDP2: parameters, gradients and optimizer states sharded per block) or "
        "deepspeed (ZeRO-2/3; needs the deepspeed extra). One process: always ddp. See docs/distributed.md.",
    )
    fsdp: FsdpConfig = Field(default_factory=FsdpConfig, description="FSDP settings (distributed: fsdp).")
    deepspeed: DeepSpeedConfig = Field(
        default_factory=DeepSpeedConfig, description="DeepSpeed settings (distributed: deepspeed)."
    )
    report_to: list[Literal["tensorboard", "mlflow", "wandb"]] = Field(
        [],
        description="Experiment tracking through the Trainer's integrations (empty: none). Offline-safe defaults "
        "inside output_dir: TensorBoard logs in tensorboard/, an MLflow file store in mlruns/, W&B in offline "
        "mode; environment variables you set (MLFLOW_TRACKING_URI, WANDB_MODE ...) win.",
    )
    run_name: str | None = Field(
        None, description="Run name shown by the tracking integrations; default: the output_dir."
    )
    run_tags: dict[str, str] = Field(
        {}, description="Tags of the run in MLflow / W&B (the benchmark sets model, method, task, seed)."
    )


class TrainConfig(StrictConfig):
    """``genomefactory-cli train``: fine-tune a genomic foundation model on a task folder."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="Which model.")
    data: DataConfig = Field(..., description="Task data.")
    task: TaskConfig = Field(default_factory=TaskConfig, description="Task type.")
    method: MethodConfig = Field(default_factory=MethodConfig, description="Fine-tuning method.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Optimisation settings.")
    output_dir: OutPath = Field(
        "runs/train", description="Run directory (metrics, predictions, model, logs)."
    )
    overwrite: bool = Field(
        False, description="Allow writing into a non-empty output_dir that is not being resumed."
    )
