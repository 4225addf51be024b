"""QLoRA: LoRA on a backbone whose linear layers are stored in 4 or 8 bits (bitsandbytes, extra ``qlora``).

The backbone's ``nn.Linear`` weights (every one with at least ``min_features`` inputs and outputs: the tiny
filter MLPs of HyenaDNA/Evo stay in full precision, 4-bit blocks of 64 values make no sense there) are replaced
by bitsandbytes ``Linear4bit`` (NF4 or FP4, optional double quantisation of the block scales) or ``Linear8bitLt``
layers, frozen. LoRA (the ``lora`` method's target resolution and injection, by import) wraps the chosen linears;
LoRA tensors, the task head, norms, embeddings and every other unquantised tensor stay in float32. The forward
pass de-quantises each weight block to ``compute_dtype``.

Works for every family whose projections are ``nn.Linear`` (HyenaDNA, Evo, GenomeOcean, NT v1/v2, ...); needs a
CUDA device (bitsandbytes' training kernels), refused otherwise with one line naming the fix.

Saving: the backbone is de-quantised and LoRA folded into it, so ``model/`` is a plain full-precision model that
every command loads on any device (rebuilt as ``full``). That is exactly the trained function: LoRA was fitted
on top of the de-quantised weights, not the published ones, so storing LoRA alone would tie the model to
re-quantising its source identically on a GPU.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from ...config import StrictConfig
from ...errors import MissingExtraError, missing_extra
from .lora import LoraConfig, inject_lora, merge_lora, resolve_targets
from .registry import TuningMethod, register_method

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ...models.registry import Backbone
    from ..heads import TaskModel

__all__ = ["QLORA", "QLoRA", "QLoraConfig", "dequantize_linears", "quantize_linears"]

_LORA = LoraConfig.model_fields


class QLoraConfig(StrictConfig):
    # an int checked below, not Literal[4, 8]: the web UI's choice widgets hold strings
    bits: int = Field(4, description="Bits per stored backbone weight: 4 (NF4/FP4) or 8 (LLM.int8).")
    quant_type: Literal["nf4", "fp4"] = Field(
        "nf4", description="4-bit data type: nf4 (normal-float, the QLoRA paper's) or fp4."
    )
    double_quant: bool = Field(
        True, description="Quantise the 4-bit block scales too (about 0.4 bit per weight saved)."
    )
    compute_dtype: Literal["bf16", "fp16", "fp32"] = Field(
        "bf16", description="Dtype the 4-bit weights are de-quantised to for each matrix product."
    )
    min_features: int = Field(
        64,
        ge=1,
        description="Quantise only linear layers with at least this many inputs and outputs (smaller ones, "
        "e.g. implicit-filter MLPs, stay in full precision).",
    )
    r: int = Field(_LORA["r"].default, ge=1, description=_LORA["r"].description)
    alpha: float = Field(_LORA["alpha"].default, gt=0, description=_LORA["alpha"].description)
    dropout: float = Field(_LORA["dropout"].default, ge=0, lt=1, description=_LORA["dropout"].description)
    target_modules: str | list[str] = Field(
        _LORA["target_modules"].default, description=_LORA["target_modules"].description
    )

    @field_validator("bits")
    @classmethod
    def _four_or_eight(cls, value: int) -> int:
        if value not in (4, 8):
            raise ValueError(f"bits must be 4 or 8, not {value}")
        return value


def require_backend() -> None:
    """bitsandbytes importable and a CUDA device present, else one line naming the fix."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise missing_extra("method qlora", "bitsandbytes", "qlora")
    import torch

    if not torch.cuda.is_available():
        raise MissingExtraError(
            "method qlora needs a CUDA GPU (bitsandbytes' 4/8-bit training kernels) and none is visible; "
            "run on a GPU machine, or use method.name: lora on this one"
        )


def _dtype(name: str) -> torch.dtype:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def quantize_linears(base: nn.Module, cfg: QLoraConfig, device: torch.device | str) -> list[str]:
    """Replace the backbone's linear layers by frozen bitsandbytes ones on ``device`` (quantised there, in
    place); returns their names."""
    import bitsandbytes as bnb
    from torch import nn

    chosen = [
        (name, m)
        for name, m in base.named_modules()
        if type(m) is nn.Linear and min(m.in_features, m.out_features) >= cfg.min_features
    ]
    for name, lin in chosen:
        weight = lin.weight.data
        q: nn.Module
        if cfg.bits == 4:
            q = bnb.nn.Linear4bit(
                lin.in_features,
                lin.out_features,
                bias=lin.bias is not None,
                compute_dtype=_dtype(cfg.compute_dtype),
                compress_statistics=cfg.double_quant,
                quant_type=cfg.quant_type,
                device="meta",
            )
            q.weight = bnb.nn.Params4bit(
                weight, requires_grad=False, quant_type=cfg.quant_type, compress_statistics=cfg.double_quant
            )
        else:
            q = bnb.nn.Linear8bitLt(
                lin.in_features, lin.out_features, bias=lin.bias is not None, has_fp16_weights=False
            )
            q.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
        if lin.bias is not None:
            q.bias = nn.Parameter(lin.bias.data.float(), requires_grad=False)
        parent_name, _, child = name.rpartition(".")
        parent = base.get_submodule(parent_name) if parent_name else base
        setattr(parent, child, q.to(device))  # moving a bitsandbytes parameter to a device quantises it
    return [name for name, _ in chosen]


def _plain_linear(q: nn.Module) -> nn.Linear:
    """A float32 ``nn.Linear`` holding the de-quantised weight of a bitsandbytes layer."""
    import torch
    from peft.utils.integrations import dequantize_module_weight
    from torch import nn

    weight = dequantize_module_weight(q).float()
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=q.bias is not None, device=weight.device)
    lin.weight.data.copy_(weight)
    bias = q.bias
    if isinstance(bias, torch.Tensor):
        lin.bias.data.copy_(bias.data.float())
    lin.requires_grad_(False)
    return lin


def dequantize_linears(model: nn.Module) -> int:
    """Replace every bitsandbytes linear in ``model`` (also the base layers inside LoRA wrappers) by its
    de-quantised float32 ``nn.Linear``; returns how many."""
    import bitsandbytes as bnb

    quantized = (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, quantized)]
    for name, q in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _plain_linear(q))
    return len(found)


class QLoRA(TuningMethod):
    name = "qlora"
    title = "QLoRA"
    config_class = QLoraConfig
    section_help = "QLoRA settings (method: qlora): 4/8-bit frozen backbone (bitsandbytes) + LoRA."

    def device(self) -> torch.device:
        """Where the backbone is quantised (bitsandbytes quantises when a weight moves to its device)."""
        import torch

        require_backend()
        return torch.device("cuda", torch.cuda.current_device())

    def build(self, backbone: Backbone, method_cfg: Any, task_type: str, num_labels: int) -> TaskModel:
        from ..heads import TaskModel, mlp_head

        cfg: QLoraConfig = self.settings(method_cfg)
        device = self.device()
        base = backbone.base
        targets = resolve_targets(
            base, cfg.target_modules, backbone.family.lora_targets, backbone.family.in_out_proj
        )
        quantize_linears(base, cfg, device)
        base.to(device)
        inject_lora(base, targets, cfg.r, cfg.alpha, cfg.dropout)
        for name, p in base.named_parameters():
            if "lora_" in name:
                p.data = p.data.float()  # LoRA weights in full precision whatever the compute dtype
        pooling = method_cfg.pooling or backbone.family.pooling
        head = mlp_head(backbone.hidden_size, [], num_labels, method_cfg.head_dropout, "relu")
        model = TaskModel(backbone.family, base, head, pooling, task_type, num_labels)
        for p in model.head.parameters():
            p.requires_grad_(True)
        return model

    def saves_full_backbone(self, method_cfg: Any, backbone: Backbone, model_cfg: Any) -> bool:
        return True  # before_save has made it a plain full-precision model

    def before_save(self, model: TaskModel, method_cfg: Any) -> dict[str, Any]:
        dequantized = dequantize_linears(model)
        merge_lora(model)
        return {"lora_merged": True, "qlora_dequantized_layers": dequantized}

    def rebuild_as(self, meta: dict[str, Any]) -> str:
        return "full"


QLORA = register_method(QLoRA())
