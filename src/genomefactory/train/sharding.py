"""Sharded training (``training.distributed``): DDP (the default), FSDP2 or DeepSpeed ZeRO, through accelerate.

What each choice means under ``torchrun`` / ``accelerate launch`` with N processes:

- ``ddp``: every rank holds the whole model, gradients are all-reduced (the behaviour before this option).
- ``fsdp``: PyTorch FSDP2 (``fully_shard``) through accelerate's FSDP plugin (``fsdp_version=2``). Every block the
  family lists (``ModelFamily.blocks``, by its class) is one FSDP unit, the rest of the task model (embeddings,
  final norm, head) is the root unit: each rank stores 1/N of every parameter, gradient and optimizer state, and
  gathers one unit's parameters at a time for its forward and backward. ``training.gradient_checkpointing``
  recomputes each block in backward (per FSDP unit). ``fsdp.cpu_offload`` keeps the shards in CPU memory.
  ``fsdp.mixed_precision`` (with ``training.precision`` bf16/fp16) gathers and computes in that dtype and
  reduces gradients in float32; the modules a family declares float32 (``ModelFamily.fp32_modules``: Evo's
  poles and residues) are units of their own whose policy keeps them float32, as a half-precision cast of a
  pole of modulus 0.999 would change the filter it defines.
- ``deepspeed``: ZeRO stage 2 (optimizer states and gradients sharded) or 3 (parameters too), optionally
  offloaded to CPU; needs the ``deepspeed`` package (extra ``deepspeed``) and GPUs.

A plain process (no launcher) has no process group: ``fsdp`` / ``deepspeed`` then train as ``ddp`` (logged);
under ``torchrun --nproc_per_node 1`` they run (CPU offload lets one GPU train a larger model). Checkpoints (``checkpoint-*``)
hold the full, un-sharded model state (rank 0 gathers it) plus what the engine needs to resume; ``model/`` is
written from an un-sharded copy of the task model that receives the gathered weights, in the family's published
layout, so every other command loads it on one device.

No torch at module level: ``train/config.py`` imports the config classes below.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import os
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ..config import StrictConfig
from ..errors import missing_extra

if TYPE_CHECKING:
    from torch import nn

    from ..models.registry import ModelFamily

__all__ = [
    "DeepSpeedConfig",
    "FsdpConfig",
    "enable_fsdp_off_gpu",
    "gather_unsharded",
    "launched",
    "load_full_optimizer",
    "local_parameter_count",
    "meta_copy",
    "shard_fp32_modules",
    "sharding_arguments",
    "sharding_in_use",
    "update_plugin_args",
]

log = logging.getLogger("genomefactory.train")

Distributed = Literal["ddp", "fsdp", "deepspeed"]


class FsdpConfig(StrictConfig):
    """FSDP2 settings (training.distributed: fsdp)."""

    mixed_precision: bool = Field(
        True,
        description="With training.precision bf16/fp16: gather parameters and compute in that dtype, reduce "
        "gradients in float32 (the family's float32 modules, e.g. Evo's poles and residues, stay float32). "
        "Off: parameters are gathered in float32 and only autocast lowers the compute precision.",
    )
    cpu_offload: bool = Field(
        False,
        description="Keep parameter, gradient and optimizer shards in CPU memory (slower, less GPU memory).",
    )
    reshard_after_forward: bool = Field(
        True,
        description="Free each block's gathered parameters after its forward and gather them again in backward "
        "(ZeRO-3 memory); false keeps them until backward (ZeRO-2-like: more memory, less communication).",
    )


class DeepSpeedConfig(StrictConfig):
    """DeepSpeed ZeRO settings (training.distributed: deepspeed; needs the deepspeed package and GPUs)."""

    zero_stage: int = Field(
        3,
        ge=2,
        le=3,
        description="ZeRO stage: 2 shards optimizer states and gradients, 3 also the parameters.",
    )
    offload: bool = Field(
        False, description="Offload optimizer states (and with stage 3 the parameters) to CPU memory."
    )


def check_sharding(distributed: str) -> None:
    """Fail before anything runs when the chosen engine is not installed."""
    if distributed == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise missing_extra("training.distributed=deepspeed", "deepspeed", "deepspeed")


def launched() -> bool:
    """Started by ``torchrun`` / ``accelerate launch`` (even with one process: FSDP's CPU offload and ZeRO-Offload
    help on one GPU too), rather than as a plain process."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def sharding_in_use(distributed: str, under_launcher: bool) -> bool:
    """FSDP / DeepSpeed need the process group a launcher sets up; a plain process trains as DDP would."""
    return distributed != "ddp" and under_launcher


def _wrap_class_names(family: ModelFamily, base: nn.Module) -> list[str]:
    """The classes of the family's blocks as they are now (a checkpointed block has a subclass, found by name)."""
    return sorted({type(b).__name__ for b in family.blocks(base)})


def _deepspeed_config(ds: DeepSpeedConfig, precision: str) -> dict[str, Any]:
    zero: dict[str, Any] = {"stage": ds.zero_stage, "overlap_comm": True, "contiguous_gradients": True}
    if ds.offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        if ds.zero_stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if ds.zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True  # full weights in every checkpoint
    return {
        "zero_optimization": zero,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16"},
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
    }


def sharding_arguments(
    distributed: str,
    fsdp: FsdpConfig,
    deepspeed: DeepSpeedConfig,
    precision: str,
    family: ModelFamily,
    base: nn.Module | None,
    under_launcher: bool,
) -> dict[str, Any]:
    """The ``TrainingArguments`` keywords that select the engine (empty for DDP or a plain process)."""
    if not sharding_in_use(distributed, under_launcher):
        if distributed != "ddp":
            log.info(
                "training.distributed=%s outside torchrun / accelerate launch: one plain process, training "
                "as ddp (start it with torchrun --nproc_per_node N to shard)",
                distributed,
            )
        return {}
    if distributed == "deepspeed":
        return {"deepspeed": _deepspeed_config(deepspeed, precision)}
    names = _wrap_class_names(family, base) if base is not None else []
    if not names:
        log.info("%s lists no blocks: FSDP shards the task model as one unit", family.name)
    config: dict[str, Any] = {
        "version": 2,
        "cpu_offload": fsdp.cpu_offload,
        "reshard_after_forward": fsdp.reshard_after_forward,
        "state_dict_type": "FULL_STATE_DICT",
    }
    if names:
        config["transformer_layer_cls_to_wrap"] = names
    return {"fsdp": True, "fsdp_config": config}


def _policy(param: Any, reduce: Any) -> Any:
    from torch.distributed.fsdp import MixedPrecisionPolicy

    return MixedPrecisionPolicy(param_dtype=param, reduce_dtype=reduce)


def update_plugin_args(args: Any, fsdp: FsdpConfig, precision: str) -> None:
    """Set the FSDP plugin's mixed-precision policy (``TrainingArguments`` has no key for it): compute in the
    training precision, reduce gradients in float32; or float32 gathers when ``fsdp.mixed_precision`` is off."""
    import torch

    plugin = getattr(args, "fsdp_plugin_args", None)
    if plugin:
        plugin["mixed_precision_policy"] = _policy(compute_dtype(fsdp, precision), torch.float32)


def enable_fsdp_off_gpu(accelerator: Any, plugin_args: dict[str, Any]) -> bool:
    """Turn on accelerate's FSDP2 path in a CPU world (gloo), where accelerate only ever offers DDP: FSDP2 itself
    runs on CPU, so the CPU tests exercise the same wrapping, gathering and checkpointing code as GPUs. Returns
    whether it changed anything (False when accelerate already runs FSDP)."""
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    state = accelerator.state
    if getattr(state, "fsdp_plugin", None) is not None or state.distributed_type != DistributedType.MULTI_CPU:
        return False
    state.fsdp_plugin = FullyShardedDataParallelPlugin(**plugin_args)
    state.distributed_type = DistributedType.FSDP
    # every AcceleratorState() re-reads the process state's type: set it there too, as accelerate does for GPUs
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    return True


def compute_dtype(fsdp: FsdpConfig, precision: str) -> Any:
    """The dtype FSDP gathers parameters in and computes with: the training precision under mixed precision."""
    import torch

    low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return low if (low is not None and fsdp.mixed_precision) else torch.float32


def shard_fp32_modules(family: ModelFamily, base: nn.Module, fsdp: FsdpConfig, precision: str) -> int:
    """Make each of the family's float32 modules an FSDP unit that gathers its parameters, takes its inputs and
    computes in float32, handing its output back in the compute dtype (call after the process group exists,
    before the ``Trainer`` wraps the rest); returns how many."""
    import torch
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    modules = family.fp32_modules(base)
    offload = CPUOffloadPolicy() if fsdp.cpu_offload else OffloadPolicy()
    policy = MixedPrecisionPolicy(
        param_dtype=torch.float32, reduce_dtype=torch.float32, output_dtype=compute_dtype(fsdp, precision)
    )
    for module in modules:
        fully_shard(
            module, mp_policy=policy, reshard_after_forward=fsdp.reshard_after_forward, offload_policy=offload
        )
    if modules:
        log.info("%s: %d modules kept float32 as FSDP units of their own", family.name, len(modules))
    return len(modules)


def meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and persistent buffers are on the meta device (no memory): the
    skeleton that receives the gathered weights after sharded training. Tied parameters stay tied; buffers
    outside the state dict (rotary tables ...) are copied, since no checkpoint restores them."""
    import torch

    memo: dict[int, Any] = {}
    for p in model.parameters():
        memo[id(p)] = torch.nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    persistent = set(model.state_dict(keep_vars=True).keys())
    for name, b in model.named_buffers():
        if name in persistent:
            memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(model, memo)


def local_parameter_count(model: nn.Module) -> int:
    """Parameters this rank stores at rest: its shards of sharded (DTensor) parameters, all of any other."""
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    for (
        m
    ) in model.modules():  # units kept gathered after a forward (the root) hold full parameters until then
        if isinstance(m, FSDPModule):
            m.reshard()
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.to_local().numel() if isinstance(p, DTensor) else p.numel()
    return total


def load_full_optimizer(model: nn.Module, optimizer: Any, checkpoint: str, is_main: bool) -> None:
    """Resume an FSDP2 optimizer from the full state rank 0 saved (``optimizer.bin``), broadcast to the shards.

    Not strict: a trainable parameter that never received a gradient (a head the task does not use, e.g. NT's
    contact head) has no AdamW state to save, and strict loading would refuse the checkpoint for it."""
    from pathlib import Path

    import torch
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    state = torch.load(Path(checkpoint) / "optimizer.bin", weights_only=True) if is_main else {}
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True, strict=False)
    set_optimizer_state_dict(model, optimizer, state, options=options)


def gather_unsharded(
    accelerator: Any, sharded: nn.Module, skeleton: nn.Module, is_main: bool
) -> nn.Module | None:
    """Gather the full state dict of a sharded model through accelerate (a collective: every rank calls it; FSDP2:
    ``get_model_state_dict(full_state_dict=True)``, ZeRO-3: the consolidated 16-bit state) and load it into the
    meta ``skeleton`` on the main process (returned there, None elsewhere), in the skeleton's dtypes."""
    full = accelerator.get_state_dict(sharded)
    if not is_main:
        return None
    own = skeleton.state_dict(keep_vars=True)
    full = {k: v.to(own[k].dtype) if k in own else v for k, v in full.items()}
    skeleton.load_state_dict(full, strict=True, assign=True)
    return skeleton
