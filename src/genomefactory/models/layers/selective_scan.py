"""Selective scan (the S6 recurrence of Mamba) in pure PyTorch, with mamba-ssm's CUDA kernel when it imports.

Shapes follow mamba-ssm's ``selective_scan_fn`` so the two are interchangeable:
``u, delta, z``: (batch, channels, length); ``A``: (channels, state); ``B, C``: (batch, state, length);
``D``, ``delta_bias``: (channels,). Time runs along the last axis, position 0 first.

Math, per batch b, channel c, state n and step t (``Δ = softplus(delta + delta_bias)`` when asked)::

    s_t = exp(Δ_t · A_cn) · s_{t-1} + Δ_t · B_nt · u_t        (s_{-1} = initial_state, default 0)
    y_t = Σ_n C_nt · s_t + D_c · u_t ;   out = y · SiLU(z)  (when z is given)

The pure-PyTorch path evaluates the first-order linear recurrence ``h_t = a_t h_{t-1} + b_t`` with an odd/even
parallel prefix scan: pair neighbours, scan the pairs recursively, then fill in the even positions. That is
O(length) work in 2·log2(length) vectorised steps instead of ``length`` Python steps, and it only multiplies
decays in [0, 1] (no division, no exp of positive numbers), so it is as stable as the sequential loop. Long inputs
are processed in chunks of ``chunk_size`` steps carrying the state, which bounds the (batch, channels, chunk,
state) working tensors when running without gradients. Arithmetic is float32 (as in the CUDA kernel), or float64
for float64 inputs; the output is cast back to ``u``'s dtype.

The CUDA kernel (``pip install mamba-ssm``) is used only for CUDA tensors, only when it imports, and only when no
``initial_state`` is given; everything else (CPU, or no kernel) takes the PyTorch path, which is always correct.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["cuda_kernel_available", "linear_scan", "selective_scan", "selective_scan_reference"]

Backend = Literal["auto", "torch", "cuda"]
_KERNEL: Callable[..., Any] | None = None
_KERNEL_TRIED = False


def _cuda_kernel() -> Callable[..., Any] | None:
    """mamba-ssm's fused selective-scan kernel, imported on first use (None when the package is unusable)."""
    global _KERNEL, _KERNEL_TRIED
    if not _KERNEL_TRIED:
        _KERNEL_TRIED = True
        try:
            from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

            _KERNEL = selective_scan_fn
        except Exception:  # ImportError, or a build without its compiled extension (selective_scan_cuda)
            _KERNEL = None
    return _KERNEL


def cuda_kernel_available() -> bool:
    return torch.cuda.is_available() and _cuda_kernel() is not None


def _scan_forward(a: Tensor, b: Tensor) -> Tensor:
    """Odd/even prefix scan along dim -2, written with in-place stores (called without autograd)."""
    length = a.shape[-2]
    if length == 1:
        return b.clone()
    pairs = length // 2
    a_even, a_odd = a[..., 0 : 2 * pairs : 2, :], a[..., 1 : 2 * pairs : 2, :]
    b_even, b_odd = b[..., 0 : 2 * pairs : 2, :], b[..., 1 : 2 * pairs : 2, :]
    h = torch.empty_like(b)
    # composing step 2k then 2k+1 gives one step with decay a_odd·a_even and input a_odd·b_even + b_odd
    h[..., 1 : 2 * pairs : 2, :] = _scan_forward(a_odd * a_even, torch.addcmul(b_odd, a_odd, b_even))
    h[..., 0, :] = b[..., 0, :]
    evens = (length - 1) // 2  # even positions 2, 4, ... take their state from the odd position before them
    if evens:
        h[..., 2::2, :] = torch.addcmul(b[..., 2::2, :], a[..., 2::2, :], h[..., 1 : 2 * evens : 2, :])
    return h


class _LinearScan(torch.autograd.Function):
    """Backward by the adjoint recurrence instead of through the recursion's graph: with ``g = dL/dh``,
    ``dL/db_t = g_t + a_{t+1} · dL/db_{t+1}`` (a scan run backwards in time) and ``dL/da_t = dL/db_t · h_{t-1}``.
    Only ``a`` and ``h`` are kept for backward."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        h = _scan_forward(a, b)
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor, Tensor]:
        a, h = ctx.saved_tensors
        a_next = torch.cat([a[..., 1:, :], torch.zeros_like(a[..., :1, :])], dim=-2)
        grad_b = _scan_forward(a_next.flip(-2), grad_h.flip(-2)).flip(-2)
        grad_a = torch.zeros_like(a)
        grad_a[..., 1:, :] = grad_b[..., 1:, :] * h[..., :-1, :]
        return grad_a, grad_b


def linear_scan(a: Tensor, b: Tensor) -> Tensor:
    """``h_t = a_t · h_{t-1} + b_t`` with ``h_{-1} = 0`` along dim -2 of (..., length, state) tensors."""
    if a.shape != b.shape:
        raise ValueError(f"linear_scan: a {tuple(a.shape)} and b {tuple(b.shape)} must have the same shape")
    return _LinearScan.apply(a, b)  # type: ignore[no-any-return]


def _scan_chunk(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, state: Tensor | None
) -> tuple[Tensor, Tensor]:
    """One chunk (float32 inputs, ``delta`` already activated): y (batch, channels, length) and the last state."""
    decay = torch.exp(delta.unsqueeze(-1) * A.unsqueeze(1))  # (b, d, l, n)
    drive = (delta * u).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(1)  # (b, d, l, n)
    if state is not None:
        drive = torch.cat([torch.addcmul(drive[..., :1, :], decay[..., :1, :], state.unsqueeze(-2)),
                           drive[..., 1:, :]], dim=-2)  # fmt: skip
    h = linear_scan(decay, drive)
    y = torch.einsum("bdln,bnl->bdl", h, C)
    return y, h[..., -1, :]


def _prepare(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, delta_bias: Tensor | None, delta_softplus: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    if u.dim() != 3 or delta.shape != u.shape or A.dim() != 2 or A.shape[0] != u.shape[1]:
        raise ValueError(f"selective_scan: expected u, delta (batch, channels, length) and A (channels, state); "
                         f"got u {tuple(u.shape)}, delta {tuple(delta.shape)}, A {tuple(A.shape)}")  # fmt: skip
    want = (u.shape[0], A.shape[1], u.shape[2])
    if tuple(B.shape) != want or tuple(C.shape) != want:
        raise ValueError(f"selective_scan: B and C must be (batch, state, length) = {want}; "
                         f"got B {tuple(B.shape)}, C {tuple(C.shape)}")  # fmt: skip
    work = torch.promote_types(u.dtype, torch.float32)  # float32 at least; float64 stays float64
    delta = delta.to(work)
    if delta_bias is not None:
        delta = delta + delta_bias.to(work).unsqueeze(-1)
    if delta_softplus:
        delta = F.softplus(delta)
    return u.to(work), delta, A.to(work), B.to(work), C.to(work)


def _finish(y: Tensor, u: Tensor, D: Tensor | None, z: Tensor | None, dtype: torch.dtype) -> Tensor:
    if D is not None:
        y = y + u * D.to(u.dtype).unsqueeze(-1)
    if z is not None:
        y = y * F.silu(z.to(u.dtype))
    return y.to(dtype)


def selective_scan(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None, z: Tensor | None = None,
    delta_bias: Tensor | None = None, delta_softplus: bool = False, initial_state: Tensor | None = None,
    return_last_state: bool = False, chunk_size: int = 2048, backend: Backend = "auto",
) -> Tensor | tuple[Tensor, Tensor]:
    """The selective scan; returns ``out`` (batch, channels, length) and, when asked, the last state
    (batch, channels, state). ``backend='cuda'`` demands the mamba-ssm kernel, ``'torch'`` forbids it."""
    if backend != "torch" and u.is_cuda and initial_state is None:
        kernel = _cuda_kernel()
        if kernel is not None:
            return kernel(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)  # type: ignore[no-any-return]
    if backend == "cuda":
        raise RuntimeError(
            "selective_scan(backend='cuda') needs CUDA tensors and the mamba-ssm kernel "
            "(pip install mamba-ssm causal-conv1d, or install genomefactory[gpu]); use backend='auto' to fall back"
        )
    if chunk_size < 1:
        raise ValueError(f"selective_scan: chunk_size must be >= 1, got {chunk_size}")
    dtype = u.dtype
    uf, df, Af, Bf, Cf = _prepare(u, delta, A, B, C, delta_bias, delta_softplus)
    state = None if initial_state is None else initial_state.to(uf.dtype)
    ys = []
    for start in range(0, uf.shape[-1], chunk_size):
        sl = slice(start, start + chunk_size)
        y, state = _scan_chunk(uf[..., sl], df[..., sl], Af, Bf[..., sl], Cf[..., sl], state)
        ys.append(y)
    out = _finish(torch.cat(ys, dim=-1), uf, D, z, dtype)
    if return_last_state:
        assert state is not None
        return out, state
    return out


def selective_scan_reference(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None, z: Tensor | None = None,
    delta_bias: Tensor | None = None, delta_softplus: bool = False, initial_state: Tensor | None = None,
    return_last_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The recurrence written out one step at a time (slow; the definition the fast paths are tested against)."""
    dtype = u.dtype
    uf, df, Af, Bf, Cf = _prepare(u, delta, A, B, C, delta_bias, delta_softplus)
    batch, channels, length = uf.shape
    s = uf.new_zeros(batch, channels, Af.shape[1]) if initial_state is None else initial_state.to(uf.dtype)
    ys = []
    for t in range(length):
        dt = df[:, :, t].unsqueeze(-1)
        s = torch.exp(dt * Af) * s + dt * Bf[:, :, t].unsqueeze(1) * uf[:, :, t].unsqueeze(-1)
        ys.append((s * Cf[:, :, t].unsqueeze(1)).sum(-1))
    out = _finish(torch.stack(ys, dim=-1), uf, D, z, dtype)
    return (out, s) if return_last_state else out
