"""The model on the meta device: parameter counts and the activation memory autograd keeps, without weights.

A family's model is built under ``torch.device("meta")`` (shapes and dtypes only, no storage), the tuning
method's ``build`` marks what is trainable (LoRA injected the same way), and one forward pass of a (batch,
length) batch of token ids runs on meta tensors inside ``torch.autograd.graph.saved_tensors_hooks``: every
tensor autograd saves for the backward pass is recorded once per storage, which is exactly the activation
memory a training step holds at the end of its forward pass — for the implementation we ship, whatever the
family (attention, FFT long convolutions, selective scans). Saved parameters and buffers are not activations
(they are counted as weights) and are left out. Two substitutions make the meta pass faithful:

- ``scaled_dot_product_attention`` is traced as the fused kernels that run on a GPU (flash / memory-efficient)
  and on a CPU (PyTorch's flash kernel for CPU): they save q, k, v, the output and a float32 log-sum-exp per
  query (plus an explicit bias such as ALiBi), not the (L, L) probability matrix the meta device's math
  fallback would save.
- data-dependent mask tests (``bool(mask.all())``) answer "every token is real": the planner sizes full,
  unpadded batches, the worst case of a batch of that length.

With ``gradient_checkpointing`` only each block's input is kept between blocks and one block's saved tensors
are rebuilt at a time in the backward pass: the estimate is the tensors saved outside blocks + one input per
block + the largest block's own saved tensors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..models.registry import ModelFamily

__all__ = ["ActivationTrace", "meta_model", "saved_activation_bytes"]


def meta_model(family: ModelFamily, config: dict[str, Any]) -> nn.Module:
    """The family's full published model, on the meta device (no weights allocated)."""
    import torch

    with torch.device("meta"):
        return family.build(config)


@dataclass(frozen=True)
class ActivationTrace:
    """Bytes autograd saves in one forward pass: outside blocks, per block, and the block inputs."""

    outside_blocks: int
    per_block: tuple[int, ...]
    block_inputs: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.outside_blocks + sum(self.per_block)

    @property
    def checkpointed(self) -> int:
        return self.outside_blocks + sum(self.block_inputs) + max(self.per_block, default=0)


def _fused_attention() -> Any:
    import torch

    class FusedAttention(torch.autograd.Function):
        """What flash / memory-efficient attention keeps for backward: q, k, v, out, logsumexp (+ bias)."""

        @staticmethod
        def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Any) -> torch.Tensor:
            out = q.new_empty((*q.shape[:-1], v.shape[-1]))
            lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
            saved = [q, k, v, out, lse] + ([bias] if isinstance(bias, torch.Tensor) else [])
            ctx.save_for_backward(*saved)
            return out

        @staticmethod
        def backward(ctx: Any, *grads: torch.Tensor) -> Any:  # never run: the trace stops after forward
            raise RuntimeError("the planner's traced attention has no backward")

    def sdpa(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: Any = None, *_: Any, **kw: Any
    ) -> Any:
        if k.shape[-3] != q.shape[-3] and kw.get("enable_gqa"):
            rep = q.shape[-3] // k.shape[-3]
            k, v = k.repeat_interleave(rep, -3), v.repeat_interleave(rep, -3)
        return FusedAttention.apply(q, k, v, attn_mask)

    return sdpa


@contextmanager
def _meta_semantics() -> Iterator[None]:
    import torch
    import torch.nn.functional as F
    from torch.utils._python_dispatch import TorchDispatchMode

    class AllTokensReal(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if func is torch.ops.aten._local_scalar_dense.default and args[0].device.type == "meta":
                if args[0].dtype == torch.bool:
                    return True  # mask.all() / mask tests: an unpadded batch
                raise RuntimeError("a data-dependent value of a meta tensor")
            return func(*args, **(kwargs or {}))

    original = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = _fused_attention()  # type: ignore[assignment]
    try:
        with AllTokensReal():
            yield
    finally:
        F.scaled_dot_product_attention = original  # type: ignore[assignment]


def saved_activation_bytes(family: ModelFamily, base: nn.Module, batch: int, length: int) -> ActivationTrace:
    """Trace one training forward pass of ``base`` on a (batch, length) batch and sum the saved tensors."""
    import torch

    blocks = family.blocks(base)
    index = {id(b): i for i, b in enumerate(blocks)}
    per_block = [0] * len(blocks)
    inputs = [0] * len(blocks)
    # parameters and buffers saved for backward (W of x @ W.T) are already counted as weights
    seen: set[int] = {t.untyped_storage()._cdata for t in [*base.parameters(), *base.buffers()]}
    outside = 0
    current: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal outside
        storage = t.untyped_storage()
        key = storage._cdata  # the StorageImpl (meta storages have no address); alive while the graph is
        if key in seen:
            return t
        seen.add(key)
        if current:
            per_block[current[-1]] += storage.nbytes()
        else:
            outside += storage.nbytes()
        return t

    def pre(module: nn.Module, args: Any) -> None:
        i = index[id(module)]
        current.append(i)
        first = args[0] if args else None
        if isinstance(first, torch.Tensor):
            inputs[i] = first.numel() * first.element_size()

    def post(module: nn.Module, args: Any, out: Any) -> None:
        current.pop()

    hooks = [b.register_forward_pre_hook(pre) for b in blocks] + [
        b.register_forward_hook(post) for b in blocks
    ]
    ids = torch.zeros(batch, length, dtype=torch.long, device="meta")
    base.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _meta_semantics():
            family.encode(base, ids, None)
    finally:
        for h in hooks:
            h.remove()
    return ActivationTrace(outside, tuple(per_block), tuple(inputs))
