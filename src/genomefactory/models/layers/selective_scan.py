"""Selective scan (the S6 recurrence of Mamba) in pure PyTorch, with mamba-ssm's CUDA kernel when it imports.

Shapes follow mamba-ssm's ``selective_scan_fn`` so the two are interchangeable:
``u, delta, z``: (batch, channels, length); ``A``: (channels, state); ``B, C``: (batch, state, length);
``D``, ``delta_bias``: (channels,). Time runs along the last axis, position 0 first.

Math, per batch b, channel c, state n and step t (``Δ = softplus(delta + delta_bias)`` when asked)::

    s_t = exp(Δ_t · A_cn) · s_{t-1} + Δ_t · B_nt · u_t        (s_{-1} = initial_state, default 0)
    y_t = Σ_n C_nt · s_t + D_c · u_t ;   out = y · SiLU(z)  (when z is given)

The pure-PyTorch path is a blocked (chunked) scan: the length is cut into ~sqrt(length) blocks of ~sqrt(length)
steps, and each Python step advances *all blocks at once*; block entry states are chained in between (see
``_SelectiveScan``). That is O(length) work in ~3·sqrt(length) vectorised steps (96 for 1,024 tokens) instead of
``length`` Python steps, with working tensors of (batch, channels, blocks, state) only, so memory stays
O(batch · channels · length) and the arithmetic is the recurrence itself: decays exp(Δ·A) in [0, 1] are only
multiplied (no division, no exp of positive sums), as stable as the per-step loop. A custom backward (adjoint
recurrence, states recomputed) keeps autograd from storing per-step tensors. Arithmetic is float32 (as in the CUDA
kernel), or float64 for float64 inputs; the output is cast back to ``u``'s dtype. (An odd/even parallel prefix
scan was tried first: on CPU it is memory-bound on (batch, channels, length, state) tensors and was slower than
the plain loop.)

The CUDA kernel (``pip install mamba-ssm``) is used only for CUDA tensors, only when it imports, and only when no
``initial_state`` is given; everything else (CPU, or no kernel) takes the PyTorch path, which is always correct.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["cuda_kernel_available", "selective_scan", "selective_scan_reference"]

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


def _blocks(length: int, block: int | None) -> tuple[int, int]:
    """(steps per block T, number of blocks); T defaults to ceil(sqrt(length)) so both loops are ~sqrt(length)."""
    t = block if block is not None else math.isqrt(max(length - 1, 0)) + 1
    return t, -(-length // t)


def _by_step(x: Tensor, t: int, nb: int, pad: int) -> Tensor:
    """(batch, k, length) -> (T, batch, blocks, k): entry [s] holds step s of every block (zero-padded)."""
    if pad:
        x = F.pad(x, (0, pad))
    return x.unflatten(-1, (nb, t)).permute(3, 0, 2, 1).contiguous()


def _from_step(x: Tensor, length: int) -> Tensor:
    """Inverse of :func:`_by_step`: (T, batch, blocks, k) -> (batch, k, length)."""
    return x.permute(1, 3, 2, 0).flatten(-2)[..., :length]


class _SelectiveScan(torch.autograd.Function):
    """``y_t = Σ_n C_nt s_t`` of the recurrence, blocked: the length is cut into ``nb`` blocks of ``T`` steps and
    every Python step advances all blocks at once on (batch, blocks, channels, state) tensors (that layout makes
    every contraction over the state or the channels a plain batched matmul, no copies).

    Forward: (1) run each block from a zero state to get its end state; (2) chain the blocks' entry states,
    ``F_c = exp(A·ΣΔ_{block c-1}) F_{c-1} + end_{c-1}``; (3) rerun each block from its true entry state, emitting y.
    Backward uses the adjoint recurrence ``λ_t = C_t g_t + exp(Δ_{t+1}A) λ_{t+1}``, blocked the same way, and
    recomputes the states, so only the inputs and the block entry states are kept from forward to backward
    (the forward never holds a (batch, channels, length, state) tensor; the backward holds two, the decays and
    the recomputed states, while it runs). Padded steps have Δ = 0: decay 1, no input, i.e. identity."""

    @staticmethod
    def forward(
        ctx: Any, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, h0: Tensor, block: int | None
    ) -> tuple[Tensor, Tensor]:
        length = u.shape[-1]
        t, nb = _blocks(length, block)
        pad = t * nb - length
        us, ds, bs, cs = (_by_step(x, t, nb, pad) for x in (u, delta, B, C))
        entry = _chain(_block_ends(us, ds, A, bs), ds, A, h0)
        ys, last = _block_outputs(us, ds, A, bs, cs, entry)
        ctx.save_for_backward(u, delta, A, B, C, entry)
        ctx.block = block
        return _from_step(ys, length), last

    @staticmethod
    @once_differentiable  # the adjoint pass updates buffers in place; no double backward
    def backward(ctx: Any, gy: Tensor, g_last: Tensor) -> tuple[Tensor | None, ...]:
        u, delta, A, B, C, entry = ctx.saved_tensors
        length = u.shape[-1]
        t, nb = _blocks(length, ctx.block)
        pad = t * nb - length
        us, ds, bs, cs, gys = (_by_step(x, t, nb, pad) for x in (u, delta, B, C, gy))
        grads = _adjoint(us, ds, A, bs, cs, gys, entry, g_last)
        back = [_from_step(g, length) for g in grads[:4]]
        return back[0], back[1], grads[4], back[2], back[3], grads[5], None


class _Stepper:
    """Advances ``h <- exp(Δ A) h + Δ u B`` in place with one preallocated buffer (forward passes run without
    autograd, so in-place updates are safe and save a fresh allocation and a memory pass per step)."""

    def __init__(self, us: Tensor, ds: Tensor, A: Tensor, bs: Tensor) -> None:
        self.ds, self.A = ds.unsqueeze(-1), A  # (T,b,c,d,1), (d,n)
        self.dus, self.bs = (ds * us).unsqueeze(-1), bs.unsqueeze(-2)  # (T,b,c,d,1), (T,b,c,1,n)
        self.decay = us.new_empty(*us.shape[1:], A.shape[1])

    def step(self, s: int, h: Tensor | None) -> Tensor:
        if h is None:
            return torch.mul(self.dus[s], self.bs[s])
        torch.mul(self.ds[s], self.A, out=self.decay).exp_()
        return h.mul_(self.decay).addcmul_(self.dus[s], self.bs[s])


def _block_ends(us: Tensor, ds: Tensor, A: Tensor, bs: Tensor) -> Tensor:
    stepper, h = _Stepper(us, ds, A, bs), None
    for s in range(us.shape[0]):
        h = stepper.step(s, h)
    assert h is not None
    return h


def _chain(ends: Tensor, ds: Tensor, A: Tensor, h0: Tensor) -> Tensor:
    """Entry state of every block (batch, blocks, channels, state), from ``h0`` and the blocks' zero-start ends."""
    through = torch.exp(ds.sum(0).unsqueeze(-1) * A)  # decay across a whole block
    entry = torch.empty_like(ends)
    state = h0
    for c in range(ends.shape[1]):
        entry[:, c] = state
        state = torch.addcmul(ends[:, c], through[:, c], state)
    return entry


def _block_outputs(
    us: Tensor, ds: Tensor, A: Tensor, bs: Tensor, cs: Tensor, entry: Tensor
) -> tuple[Tensor, Tensor]:
    stepper, h = _Stepper(us, ds, A, bs), entry.clone()
    ys = us.new_empty(us.shape)
    cols = cs.unsqueeze(-1)  # (T,b,c,n,1)
    for s in range(us.shape[0]):
        h = stepper.step(s, h)
        torch.matmul(h, cols[s], out=ys[s].unsqueeze(-1))
    return ys, h[:, -1]


def _adjoint(
    us: Tensor,
    ds: Tensor,
    A: Tensor,
    bs: Tensor,
    cs: Tensor,
    gys: Tensor,
    entry: Tensor,
    g_last: Tensor | None,
) -> tuple[Tensor, ...]:
    """Gradients (u, Δ, B, C by step; A; h0) of ``Σ gy·y + g_last·last``. Every per-step tensor is
    (batch, blocks, channels, state); contractions over the state or the channels are batched matmuls."""
    steps = us.shape[0]
    dec = torch.mul(ds.unsqueeze(-1), A).exp_()  # every step's decay, once: (T,b,c,d,n)
    dus = ds * us
    b_row, c_row = bs.unsqueeze(-2), cs.unsqueeze(-2)  # (T,b,c,1,n)
    states = torch.empty_like(dec)
    h = entry
    for s in range(steps):  # recompute the states
        torch.mul(h, dec[s], out=states[s]).addcmul_(dus[s].unsqueeze(-1), b_row[s])
        h = states[s]
    g_col = gys.unsqueeze(-1)  # (T,b,c,d,1)
    # adjoint entering each block from the right: chain the blocks' zero-terminal adjoints backwards
    lam = torch.zeros_like(entry)
    for s in reversed(range(steps)):
        if s < steps - 1:
            lam.mul_(dec[s + 1])
        lam.addcmul_(g_col[s], c_row[s])
    through = torch.exp(ds.sum(0).unsqueeze(-1) * A)
    starts = dec[0] * lam  # d(loss)/d(state entering the block), from inside the block
    incoming = torch.empty_like(starts)
    carry = torch.zeros_like(starts[:, 0]) if g_last is None else g_last.to(starts.dtype)
    for c in reversed(range(starts.shape[1])):
        incoming[:, c] = carry
        carry = torch.addcmul(starts[:, c], through[:, c], carry)
    g_h0 = carry
    gu, gd = torch.empty_like(us), torch.empty_like(ds)
    gb, gc = torch.empty_like(bs), torch.empty_like(cs)
    g_a = torch.zeros_like(entry)  # Σ over steps of g_decay · Δ, reduced over batch and blocks at the end
    x = torch.empty_like(entry)
    lam_b = us.new_empty(us.shape[1:]).unsqueeze(-1)  # (b,c,d,1)
    lam = incoming
    b_col, du_col = bs.unsqueeze(-1), dus.unsqueeze(-1)  # (T,b,c,n,1), (T,b,c,d,1)
    for s in reversed(range(steps)):
        lam.addcmul_(g_col[s], c_row[s])
        prev = states[s - 1] if s else entry
        torch.mul(lam, dec[s], out=x).mul_(prev)  # d/d(Δ A) of the decay term
        torch.matmul(lam, b_col[s], out=lam_b)
        torch.matmul(lam.transpose(-1, -2), du_col[s], out=gb[s].unsqueeze(-1))
        torch.matmul(states[s].transpose(-1, -2), g_col[s], out=gc[s].unsqueeze(-1))
        g_a.addcmul_(x, ds[s].unsqueeze(-1))
        torch.sum(x.mul_(A), -1, out=gd[s])
        gd[s].addcmul_(us[s], lam_b.squeeze(-1))
        torch.mul(ds[s], lam_b.squeeze(-1), out=gu[s])
        lam.mul_(dec[s])
    return gu, gd, gb, gc, g_a.sum((0, 1)), g_h0


def _prepare(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, delta_bias: Tensor | None, delta_softplus: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    if u.dim() != 3 or delta.shape != u.shape or A.dim() != 2 or A.shape[0] != u.shape[1]:
        raise ValueError(
            f"selective_scan: expected u, delta (batch, channels, length) and A (channels, state); "
            f"got u {tuple(u.shape)}, delta {tuple(delta.shape)}, A {tuple(A.shape)}"
        )
    want = (u.shape[0], A.shape[1], u.shape[2])
    if tuple(B.shape) != want or tuple(C.shape) != want:
        raise ValueError(
            f"selective_scan: B and C must be (batch, state, length) = {want}; "
            f"got B {tuple(B.shape)}, C {tuple(C.shape)}"
        )
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
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    return_last_state: bool = False,
    block: int | None = None,
    backend: Backend = "auto",
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
    if block is not None and block < 1:
        raise ValueError(f"selective_scan: block must be >= 1, got {block}")
    dtype = u.dtype
    uf, df, Af, Bf, Cf = _prepare(u, delta, A, B, C, delta_bias, delta_softplus)
    h0 = (
        uf.new_zeros(uf.shape[0], uf.shape[1], Af.shape[1])
        if initial_state is None
        else initial_state.to(uf.dtype)
    )
    y, last = _SelectiveScan.apply(uf, df, Af, Bf, Cf, h0, block)
    out = _finish(y, uf, D, z, dtype)
    return (out, last) if return_last_state else out


def selective_scan_reference(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
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
