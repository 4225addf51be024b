"""Activation (gradient) checkpointing for any family: keep only block inputs, recompute block internals in backward.

Each family lists its repeated residual blocks (``ModelFamily.blocks(base)``, in forward order). Checkpointing a
block means its forward runs under ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)`` while the model
is training with gradients enabled: the activations inside a block are freed after forward and recomputed when
backward reaches it, so peak activation memory drops from O(layers · activations per layer) to about
O(layers · hidden states + one layer's activations), for about one extra forward pass of compute.

How blocks are wrapped: the block's class is swapped for a cached subclass whose ``forward`` calls the original
one through ``checkpoint``. No module is added, renamed or moved, so state-dict keys, ``strict_load``, saving,
LoRA injection (before or after) and LoRA merging are unaffected; ``isinstance`` checks still hold. The RNG state
is restored for the recompute (dropout draws the same masks), so losses and gradients equal an unwrapped run's.
Any block arguments (padding masks, ALiBi biases, packed-sequence descriptors, residual streams) pass through as
given, so left/right padding and the packed attention path work unchanged.

Transformers models (``PreTrainedModel`` bases that support it) use transformers' own activation checkpointing
instead, which also turns off the KV cache during the checkpointed forward (a cache written twice would break the
recompute); it too only checkpoints in training mode and leaves the state dict untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..errors import UserError
from .registry import ModelFamily

__all__ = [
    "CheckpointingUnsupportedError",
    "checkpointed_blocks",
    "disable_checkpointing",
    "enable_checkpointing",
]

log = logging.getLogger("genomefactory.models.checkpointing")

_SUBCLASSES: dict[type[nn.Module], type[nn.Module]] = {}


class CheckpointingUnsupportedError(UserError, ValueError):
    """The family does not name its repeated blocks, so there is nothing to checkpoint."""


def _checkpointed_class(cls: type[nn.Module]) -> type[nn.Module]:
    """One subclass per block class (cached so every block of a model shares it and deepcopy keeps working)."""
    sub = _SUBCLASSES.get(cls)
    if sub is not None:
        return sub
    original = cls.forward

    def forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        # eval / no-grad passes (inference, generation with a cache) run the block as is
        if self.training and torch.is_grad_enabled():
            return checkpoint(original, self, *args, use_reentrant=False, **kwargs)
        return original(self, *args, **kwargs)

    sub = type(f"Checkpointed{cls.__name__}", (cls,), {"forward": forward, "_gf_checkpointed_from": cls})
    _SUBCLASSES[cls] = sub
    return sub


def _is_hf_checkpointable(base: nn.Module) -> bool:
    from transformers import PreTrainedModel

    return isinstance(base, PreTrainedModel) and bool(getattr(base, "supports_gradient_checkpointing", False))


def enable_checkpointing(family: ModelFamily, base: nn.Module) -> int:
    """Checkpoint every repeated block of ``base`` (the family's headless backbone); returns how many blocks.

    Idempotent. Raises :class:`CheckpointingUnsupportedError` when the family names no blocks and the backbone is
    not a transformers model with built-in checkpointing.
    """
    if _is_hf_checkpointable(base):
        hf: Any = base
        kwargs = {"use_reentrant": False}
        if hasattr(hf, "activation_checkpointing_enable"):  # the newer name; the old one warns from 5.2x on
            hf.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        n = checkpointed_blocks(base)
        log.info("%s: transformers activation checkpointing on %d layers", family.name, n)
        return n
    blocks = family.blocks(base)
    if not blocks:
        raise CheckpointingUnsupportedError(
            f"training.gradient_checkpointing=true, but model family {family.name!r} does not list its repeated "
            f"blocks ({type(family).__name__}.blocks returns none), so activations cannot be checkpointed; set "
            "training.gradient_checkpointing=false or implement blocks() for this family"
        )
    for block in blocks:
        if not getattr(type(block), "_gf_checkpointed_from", None):
            block.__class__ = _checkpointed_class(type(block))
    log.info("%s: activation checkpointing on %d blocks", family.name, len(blocks))
    return len(blocks)


def disable_checkpointing(family: ModelFamily, base: nn.Module) -> None:
    """Undo :func:`enable_checkpointing` (blocks get their original class back)."""
    if _is_hf_checkpointable(base):
        hf: Any = base
        off = getattr(hf, "activation_checkpointing_disable", None) or hf.gradient_checkpointing_disable
        off()
        return
    for block in family.blocks(base):
        original = getattr(type(block), "_gf_checkpointed_from", None)
        if original is not None:
            block.__class__ = original


def checkpointed_blocks(base: nn.Module) -> int:
    """How many blocks of ``base`` are checkpointed (ours or transformers' layers), for logs and tests."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    def on(m: nn.Module) -> bool:
        if getattr(type(m), "_gf_checkpointed_from", None) is not None:
            return True
        return isinstance(m, GradientCheckpointingLayer) and bool(m.gradient_checkpointing)

    return sum(1 for m in base.modules() if on(m))
