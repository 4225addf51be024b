"""``genomefactory-cli plan``: build the train config's model on the meta device, count, trace, and size every
(strategy, GPU count, batch size, length) for the given GPU memory. Nothing is downloaded or allocated; a
``model.path`` must be a local folder (its ``config.json`` is read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ConfigError, load_config
from ..errors import UserFileNotFoundError
from ..io import atomic_write_json, check_output_file
from ..models.config import DEFAULT_FAMILY
from ..models.registry import Backbone, ModelFamily, get_family, resolve_variant
from ..train.config import TrainConfig
from ..train.methods import count_parameters, get_method
from .config import PlanConfig
from .memory import GIB, Counts, Estimate, estimate
from .trace import meta_model, saved_activation_bytes

if TYPE_CHECKING:
    from torch import nn

__all__ = ["PlanResult", "Setup", "plan_model", "run_plan"]


@dataclass
class Setup:
    """One tuning setup on the meta device: its counts and the task model whose forward is traced."""

    name: str
    counts: Counts
    base: nn.Module
    checkpointing: bool


@dataclass
class PlanResult:
    family: str
    variant: str | None
    method: str
    precision: str
    gpu_memory_gb: float
    reserve_gb: float
    setups: dict[str, Counts]
    estimates: list[Estimate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        return [e.as_dict(self.gpu_memory_gb, self.reserve_gb) for e in self.estimates]

    def as_dict(self) -> dict[str, Any]:
        setups = {k: vars(v) for k, v in self.setups.items()}
        head = {k: getattr(self, k) for k in ("family", "variant", "method", "precision", "gpu_memory_gb")}
        return {
            **head,
            "reserve_gb": self.reserve_gb,
            "setups": setups,
            "rows": self.rows(),
            "notes": self.notes,
        }

    def summary(self) -> str:
        main = self.setups[self.method]
        lines = [
            f"{self.family} {self.variant or ''} ({self.precision}): {main.params:,} parameters, "
            f"{main.trainable:,} trainable with method {self.method}"
            + (f"; qlora: {self.setups['qlora'].trainable:,} trainable" if "qlora" in self.setups else ""),
            f"per-GPU GiB (weights + gradients + optimizer + activations); fits = total + {self.reserve_gb:g} "
            f"reserve <= {self.gpu_memory_gb:g}",
            f"{'strategy':<16}{'gpus':>5}{'batch':>6}{'length':>8}{'weights':>9}{'grads':>8}{'optim':>8}"
            f"{'activ':>9}{'total':>9}  fits",
        ]
        for e in self.estimates:
            gib = [x / GIB for x in (e.weights, e.gradients, e.optimizer, e.activations, e.total)]
            lines.append(
                f"{e.strategy:<16}{e.n_gpus:>5}{e.batch_size:>6}{e.length:>8}{gib[0]:>9.2f}{gib[1]:>8.2f}"
                f"{gib[2]:>8.2f}{gib[3]:>9.2f}{gib[4]:>9.2f}  {'yes' if e.fits(self.gpu_memory_gb, self.reserve_gb) else 'no'}"
            )
        fitting = [e for e in self.estimates if e.fits(self.gpu_memory_gb, self.reserve_gb)]
        lines.append(
            f"{len(fitting)} of {len(self.estimates)} configurations fit one {self.gpu_memory_gb:g} GiB GPU"
        )
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _model_config(train: TrainConfig) -> tuple[ModelFamily, dict[str, Any], str | None]:
    m = train.model
    if m.path is not None and not (m.family is not None and m.init == "tiny"):
        from ..models.detect import checked_family

        directory = Path(m.path).expanduser()
        if not directory.is_dir():
            raise UserFileNotFoundError(
                f"model.path {m.path!r} is not a local folder: the planner reads only a checkpoint's config.json "
                "(nothing is downloaded); give model.family and model.variant for a published model"
            )
        family = checked_family(directory, m.family)
        return family, family.read_config(directory), None
    family = get_family(m.family or DEFAULT_FAMILY)
    if m.init == "tiny":
        return family, {**family.tiny_config(), **m.tiny_overrides}, "tiny"
    variant = resolve_variant(family, m.variant)
    return family, family.published_config(variant), variant


def _largest_block(family: ModelFamily, base: nn.Module) -> int:
    return max((sum(p.numel() for p in b.parameters()) for b in family.blocks(base)), default=0)


def _lora_method(train: TrainConfig) -> Any:
    """The train config's method settings with its LoRA section set from method.qlora (same targets, rank)."""
    q = train.method.qlora  # type: ignore[attr-defined]
    lora = train.method.lora.model_copy(  # type: ignore[attr-defined]
        update={"r": q.r, "alpha": q.alpha, "dropout": q.dropout, "target_modules": q.target_modules}
    )
    return train.method.model_copy(update={"name": "lora", "lora": lora})


def _setup(name: str, train: TrainConfig, family: ModelFamily, config: dict[str, Any]) -> Setup:
    import torch
    from torch import nn

    model = meta_model(family, config)
    backbone = Backbone(family, model, None, config)
    quantized = 0
    method_cfg = train.method
    if name == "qlora":
        q = train.method.qlora  # type: ignore[attr-defined]
        quantized = sum(
            m.weight.numel()
            for m in backbone.base.modules()
            if type(m) is nn.Linear and min(m.in_features, m.out_features) >= q.min_features
        )
        method_cfg = _lora_method(train)  # the same trainable tensors and traced graph, without bitsandbytes
    method = get_method(method_cfg.name)
    num_labels = train.task.num_labels or (1 if train.task.type == "regression" else 2)
    with torch.device("meta"):
        task_model = method.build(backbone, method_cfg, train.task.type, num_labels)
    trainable, total = count_parameters(task_model)
    bits = int(train.method.qlora.bits) if name == "qlora" else 16  # type: ignore[attr-defined]
    double = bool(train.method.qlora.double_quant)  # type: ignore[attr-defined]
    counts = Counts(total, trainable, _largest_block(family, backbone.base), quantized, bits, double)
    checkpointing = train.training.gradient_checkpointing and method.supports_checkpointing
    base = task_model.backbone if task_model.backbone is not None else backbone.base
    return Setup(name, counts, base, checkpointing)


def _compute_bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def plan_model(cfg: PlanConfig, train: TrainConfig) -> PlanResult:
    import torch

    family, config, variant = _model_config(train)
    precision = train.training.precision
    method = train.method.name
    names = [method] + (["qlora"] if "qlora" in cfg.strategies and method != "qlora" else [])
    setups = {n: _setup(n, train, family, config) for n in names}
    result = PlanResult(
        family.name,
        variant,
        method,
        precision,
        cfg.gpu_memory_gb,
        cfg.reserve_gb,
        {n: s.counts for n, s in setups.items()},
    )
    dtype = torch.float32 if precision == "fp32" else torch.bfloat16 if precision == "bf16" else torch.float16
    max_tokens = family.max_tokens(config)
    lengths = cfg.lengths or [train.data.max_length or max_tokens]
    for length in lengths:
        if length > max_tokens:
            result.notes.append(f"length {length} skipped: {family.name} takes at most {max_tokens} tokens")
    lengths = [n for n in lengths if n <= max_tokens]
    batches = cfg.batch_sizes or [train.training.batch_size]
    traced: dict[tuple[str, int, int], int] = {}
    for s in setups.values():
        s.base.to(dtype)
        for b in batches:
            for length in lengths:
                t = saved_activation_bytes(family, s.base, b, length)
                traced[(s.name, b, length)] = t.checkpointed if s.checkpointing else t.total
    for strategy in cfg.strategies:
        setup = "qlora" if strategy == "qlora" else method
        if method == "qlora" and strategy != "qlora":
            continue  # a QLoRA config is planned as qlora; the sharded strategies need a plain method
        for n in cfg.n_gpus:
            for b in batches:
                for length in lengths:
                    act = traced[(setup, b, length)]
                    counts = setups[setup].counts
                    result.estimates.append(
                        estimate(strategy, counts, n, b, length, act, _compute_bytes(precision))
                    )
    if method == "qlora" and set(cfg.strategies) - {"qlora"}:
        result.notes.append("method qlora is planned as strategy qlora only (its frozen 4/8-bit backbone)")
    return result


def run_plan(cfg: PlanConfig) -> PlanResult:
    """Plan the memory of ``cfg.train`` (or the train config in ``cfg.train_file``); print-ready result."""
    if cfg.train_file is not None and not Path(cfg.train_file).is_file():
        raise UserFileNotFoundError(f"train_file {cfg.train_file!r} does not exist")
    train = cfg.train if cfg.train is not None else load_config(TrainConfig, cfg.train_file)
    if cfg.output is not None:
        check_output_file(cfg.output, "output", (".json",))
    result = plan_model(cfg, train)
    if not result.estimates:
        raise ConfigError("nothing to plan: every length is longer than the model takes (see the notes)")
    if cfg.output is not None:
        atomic_write_json(cfg.output, result.as_dict())
    return result
