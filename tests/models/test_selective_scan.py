"""The parallel selective scan against the step-by-step recurrence; the Mamba mixer's causality and padding."""

from __future__ import annotations

import pytest
import torch

from genomefactory.models.layers import selective_scan as ss
from genomefactory.models.layers.mamba import MambaMixer
from genomefactory.models.layers.selective_scan import selective_scan, selective_scan_reference


def _inputs(batch: int, channels: int, state: int, length: int, dtype: torch.dtype = torch.float64) -> dict:
    g = torch.Generator().manual_seed(length)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    return dict(
        u=r(batch, channels, length),
        delta=r(batch, channels, length),
        A=-torch.rand(channels, state, generator=g, dtype=dtype) * 4,
        B=r(batch, state, length),
        C=r(batch, state, length),
        D=r(channels),
        z=r(batch, channels, length),
        delta_bias=r(channels),
        initial_state=r(batch, channels, state),
    )


@pytest.mark.parametrize("length", [1, 2, 3, 7, 16, 33, 64])
@pytest.mark.parametrize("chunk_size", [1, 5, None])
def test_scan_equals_stepwise_recurrence(length: int, chunk_size: int | None) -> None:
    x = _inputs(2, 5, 3, length)
    fast, last = selective_scan(**x, delta_softplus=True, return_last_state=True, block=chunk_size)
    slow, last_ref = selective_scan_reference(**x, delta_softplus=True, return_last_state=True)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(last, last_ref, rtol=1e-12, atol=1e-12)


def test_scan_gradients_equal_the_recurrence() -> None:
    x = {k: v.requires_grad_() for k, v in _inputs(2, 4, 3, 19).items()}
    names = list(x)
    g_fast = torch.autograd.grad(
        (selective_scan(**x, delta_softplus=True, block=8) ** 2).sum(), [x[k] for k in names]
    )
    g_slow = torch.autograd.grad(
        (selective_scan_reference(**x, delta_softplus=True) ** 2).sum(), [x[k] for k in names]
    )
    for name, a, b in zip(names, g_fast, g_slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=f"gradient of {name}")


def test_float32_scan_matches_float64_recurrence_with_state_and_last() -> None:
    """The benchmark's regime (float32, ~sqrt(length) blocks, an odd length that pads the last block, an initial
    state and the last state both differentiated): outputs and every gradient within 1e-5 of the float64
    step-by-step recurrence."""
    x64 = _inputs(3, 8, 5, 70)
    names = list(x64)
    x32 = {k: v.float().requires_grad_() for k, v in x64.items()}
    x64 = {k: v.clone().requires_grad_() for k, v in x64.items()}

    def loss(fn, x):  # type: ignore[no-untyped-def]
        out, last = fn(**x, delta_softplus=True, return_last_state=True)
        return (out * out.detach().sin()).sum() + (last**2).sum(), out, last

    l32, out32, last32 = loss(selective_scan, x32)
    l64, out64, last64 = loss(selective_scan_reference, x64)
    torch.testing.assert_close(out32.double(), out64, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last32.double(), last64, rtol=1e-5, atol=1e-5)
    g32 = torch.autograd.grad(l32, [x32[k] for k in names])
    g64 = torch.autograd.grad(l64, [x64[k] for k in names])
    for name, a, b in zip(names, g32, g64, strict=True):
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-5, msg=f"gradient of {name}")


@pytest.mark.parametrize(("length", "block"), [(1, None), (6, None), (11, 3), (11, 1)])
def test_scan_gradcheck(length: int, block: int | None) -> None:
    x = _inputs(1, 2, 2, length)
    names = ["u", "delta", "A", "B", "C", "initial_state"]
    args = [x[k].requires_grad_() for k in names]

    def f(*a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return selective_scan(
            **dict(zip(names, a, strict=True)), return_last_state=True, block=block, delta_softplus=True
        )  # type: ignore[return-value]

    assert torch.autograd.gradcheck(f, args)  # softplus keeps decays <= 1: finite differences stay accurate


def test_strong_decay_stays_finite_and_exact() -> None:
    # products of decays only: exp(Δ·A) underflows to 0 instead of overflowing (no exp of positive sums)
    x = _inputs(1, 3, 4, 40)
    x["delta"] = x["delta"].abs() * 60
    fast = selective_scan(**x, block=16)
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, selective_scan_reference(**x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_low_precision_inputs_computed_in_float32(dtype: torch.dtype) -> None:
    x = _inputs(2, 4, 3, 24, dtype=dtype)
    out = selective_scan(**x, delta_softplus=True)
    assert out.dtype == dtype  # type: ignore[union-attr]
    ref = selective_scan_reference(**{k: v.double() for k, v in x.items()}, delta_softplus=True)
    tol = 1e-4 if dtype == torch.float32 else 5e-2
    torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)  # type: ignore[union-attr]


def test_cpu_never_asks_for_the_cuda_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> None:
        raise AssertionError("CUDA kernel looked up for CPU tensors")

    monkeypatch.setattr(ss, "_cuda_kernel", boom)
    selective_scan(**_inputs(1, 2, 2, 5))
    with pytest.raises(RuntimeError, match="pip install mamba-ssm"):
        selective_scan(**_inputs(1, 2, 2, 5), backend="cuda")


def test_bad_shapes_are_named() -> None:
    x = _inputs(1, 2, 3, 5)
    x["B"] = x["B"][:, :2]
    with pytest.raises(ValueError, match=r"B and C must be \(batch, state, length\)"):
        selective_scan(**x)


def _mixer() -> MambaMixer:
    torch.manual_seed(0)
    m = MambaMixer(8, d_state=4, d_conv=4, expand=2).double()
    with torch.no_grad():  # non-trivial conv bias so padding mistakes show
        m.conv1d.bias.normal_()
    return m


def test_mixer_is_causal() -> None:
    m = _mixer()
    h = torch.randn(2, 20, 8, dtype=torch.float64)
    h2 = h.clone()
    h2[:, 12:] = torch.randn(2, 8, 8, dtype=torch.float64)
    y, y2 = m(h), m(h2)
    torch.testing.assert_close(y[:, :12], y2[:, :12])
    assert not torch.allclose(y[:, 12:], y2[:, 12:])


def test_mixer_left_padding_with_mask_equals_unpadded() -> None:
    m = _mixer()
    h = torch.randn(1, 15, 8, dtype=torch.float64)
    padded = torch.cat([torch.randn(1, 6, 8, dtype=torch.float64), h], dim=1)
    mask = torch.cat([torch.zeros(1, 6), torch.ones(1, 15)], dim=1)
    torch.testing.assert_close(m(padded, mask)[:, 6:], m(h))
    assert not torch.allclose(m(padded)[:, 6:], m(h))  # without the mask the pads leak in


def test_mixer_matches_reference_scan_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    m = _mixer()
    h = torch.randn(2, 33, 8, dtype=torch.float64)
    fast = m(h)
    monkeypatch.setattr(
        "genomefactory.models.layers.mamba.selective_scan",
        lambda *a, backend="auto", **k: selective_scan_reference(*a, **k),
    )
    torch.testing.assert_close(fast, m(h), rtol=1e-12, atol=1e-12)
