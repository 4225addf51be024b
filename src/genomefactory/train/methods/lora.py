"""LoRA (peft) injected into the backbone's linear layers; the task head is always trained.

``target_modules``: ``default`` (the family's, paper appendix C), ``all`` (every ``nn.Linear`` of the backbone,
never the head), ``all_in_and_out_proj`` (the family's projection layers), or explicit names ('re:' = regex).
Names are resolved to full module paths here, so a pattern that matches nothing is an error, not a silent no-op.
Saving: an unmerged LoRA model on published weights stores only the LoRA and head tensors; ``merge: true`` folds
LoRA into the backbone first, and the saved model is then a plain full model.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ...config import ConfigError, StrictConfig
from .registry import TuningMethod, published_backbone, register_method

if TYPE_CHECKING:
    from torch import nn

    from ...models.registry import Backbone
    from ..heads import TaskModel

__all__ = ["LORA", "LoRA", "LoraConfig", "inject_lora", "merge_lora", "resolve_targets"]


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


def _matches(name: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.search(pattern[3:], name) is not None
    return name == pattern or name.endswith("." + pattern)


def resolve_targets(
    base: nn.Module, spec: str | list[str], family_default: tuple[str, ...], in_out: tuple[str, ...]
) -> list[str]:
    """Full names of the linear layers LoRA wraps."""
    from torch import nn

    linears = [n for n, m in base.named_modules() if isinstance(m, nn.Linear)]
    if spec == "all":
        return linears
    patterns: list[str]
    if spec == "default":
        patterns = list(family_default)
    elif spec == "all_in_and_out_proj":
        if not in_out:
            raise ConfigError(
                "method.lora.target_modules: 'all_in_and_out_proj' is not defined for this family (it lists no "
                "projection layers); use 'default', 'all' or a list of module names"
            )
        patterns = list(in_out)
    elif isinstance(spec, str):
        patterns = [spec]
    else:
        patterns = list(spec)
    chosen = [n for n in linears if any(_matches(n, p) for p in patterns)]
    for p in patterns:
        if not any(_matches(n, p) for n in linears):
            sample = ", ".join(linears[:6])
            raise ConfigError(
                f"method.lora.target_modules: {p!r} matches no linear layer of the backbone "
                f"(linear layers look like: {sample} ...)"
            )
    return chosen


def inject_lora(base: nn.Module, targets: list[str], r: int, alpha: float, dropout: float) -> None:
    """Wrap the linear layers named ``targets`` with LoRA (peft; plain or bitsandbytes-quantized linears) and
    leave only the LoRA tensors of ``base`` trainable."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import inject_adapter_in_model

    peft_cfg = PeftLoraConfig(
        r=r,
        lora_alpha=alpha,  # type: ignore[arg-type]  # peft annotates int; the scale alpha/r is a float
        lora_dropout=dropout,
        target_modules=targets,
        bias="none",
    )
    inject_adapter_in_model(peft_cfg, base)
    for name, p in base.named_parameters():
        p.requires_grad_("lora_" in name)


def merge_lora(model: nn.Module) -> int:
    """Fold every LoRA layer into its base linear (in place); returns how many layers were merged."""
    from peft.tuners.lora import LoraLayer

    merged = 0
    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.get_base_layer())
            merged += 1
    return merged


class LoRA(TuningMethod):
    name = "lora"
    title = "LoRA"
    config_class = LoraConfig
    section_help = "LoRA settings (method: lora)."

    def build(self, backbone: Backbone, method_cfg: Any, task_type: str, num_labels: int) -> TaskModel:
        from ..heads import mlp_head
        from ..per_base import task_model_class

        cfg: LoraConfig = self.settings(method_cfg)
        base = backbone.base
        targets = resolve_targets(
            base, cfg.target_modules, backbone.family.lora_targets, backbone.family.in_out_proj
        )
        inject_lora(base, targets, cfg.r, cfg.alpha, cfg.dropout)
        pooling = method_cfg.pooling or backbone.family.pooling
        head = mlp_head(backbone.hidden_size, [], num_labels, method_cfg.head_dropout, "relu")
        model = task_model_class(task_type)(backbone.family, base, head, pooling, task_type, num_labels)
        for p in model.head.parameters():
            p.requires_grad_(True)
        return model

    def saves_full_backbone(self, method_cfg: Any, backbone: Backbone, model_cfg: Any) -> bool:
        # unmerged LoRA on published weights: the backbone is re-loaded from its source, LoRA + head stored
        return bool(self.settings(method_cfg).merge) or not published_backbone(backbone, model_cfg)

    def before_save(self, model: TaskModel, method_cfg: Any) -> dict[str, Any]:
        merge = bool(self.settings(method_cfg).merge)
        if merge:
            merge_lora(model)
        return {"lora_merged": merge}

    def rebuild_as(self, meta: dict[str, Any]) -> str:
        return "full" if meta.get("lora_merged") else self.name


LORA = register_method(LoRA())
