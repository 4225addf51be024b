"""FFT causal convolution (2L zero padding), short FIR filter and left-alignment of padded batches."""

from __future__ import annotations

import pytest
import torch

from genomefactory.models.layers.fftconv import (
    align_left,
    direct_causal_conv,
    fft_causal_conv,
    restore_alignment,
    short_causal_conv,
)


def _explicit(u: torch.Tensor, k: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """y[t] = sum_{j<=t} k[j] u[t-j] + skip u[t], written out as loops (small sizes only)."""
    n = u.shape[-1]
    y = torch.zeros_like(u, dtype=torch.float64)
    for t in range(n):
        for j in range(t + 1):
            y[..., t] += k[:, j].double() * u[..., t - j].double()
    return (y + skip.double()[:, None] * u.double()).float()


def _circular(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """What an FFT of size L (no padding) computes: a circular convolution."""
    n = u.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)


@pytest.mark.parametrize("length", [1, 7, 16, 33])
def test_fft_conv_equals_explicit_causal_sum(length: int) -> None:
    u, k, skip = torch.randn(2, 3, length), torch.randn(3, length), torch.randn(3)
    ref = _explicit(u, k, skip)
    torch.testing.assert_close(fft_causal_conv(u, k, skip), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(direct_causal_conv(u, k, skip), ref, atol=1e-5, rtol=1e-5)


def test_fft_conv_does_not_leak_future_positions() -> None:
    length, t0 = 64, 40
    u, k = torch.randn(1, 4, length), torch.randn(4, length)  # kernel non-zero over its whole length
    changed = u.clone()
    changed[..., t0:] += 10 * torch.randn(1, 4, length - t0)
    y0, y1 = fft_causal_conv(u, k), fft_causal_conv(changed, k)
    assert (y0[..., :t0] - y1[..., :t0]).abs().max() < 1e-4  # the past does not see the future
    assert (y0[..., t0:] - y1[..., t0:]).abs().max() > 1.0
    # the same check on an unpadded (size-L) FFT fails: the kernel's tail wraps the future onto the past
    c0, c1 = _circular(u, k), _circular(changed, k)
    assert (c0[..., :t0] - c1[..., :t0]).abs().max() > 1.0


def test_fft_conv_keeps_dtype_and_accepts_longer_kernel_and_batch_dims() -> None:
    u, k = torch.randn(2, 5, 3, 10, dtype=torch.float64), torch.randn(3, 25)
    y = fft_causal_conv(u, k)
    assert y.dtype == torch.float64 and y.shape == u.shape
    torch.testing.assert_close(y, direct_causal_conv(u, k), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="shorter than the input"):
        fft_causal_conv(torch.randn(1, 3, 10), torch.randn(3, 5))


def test_short_causal_conv_is_causal_width_three_filter() -> None:
    u, w, b = torch.randn(2, 4, 9), torch.randn(4, 1, 3), torch.randn(4)
    y = short_causal_conv(u, w, b)
    pad = torch.nn.functional.pad(u, (2, 0))
    want = (
        w[:, 0, 0, None] * pad[..., :-2] + w[:, 0, 1, None] * pad[..., 1:-1] + w[:, 0, 2, None] * pad[..., 2:]
    )
    torch.testing.assert_close(y, want + b[:, None])


def test_align_left_moves_left_padding_behind_and_restores() -> None:
    ids = torch.tensor([[4, 4, 7, 8, 9], [7, 8, 9, 10, 11], [7, 8, 4, 4, 4]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    aligned, shifts = align_left(ids, mask)
    assert aligned.tolist() == [[7, 8, 9, 4, 4], [7, 8, 9, 10, 11], [7, 8, 4, 4, 4]]
    hidden = aligned[..., None].float().repeat(1, 1, 2)
    assert torch.equal(restore_alignment(hidden, shifts)[..., 0].long(), ids)
    assert align_left(ids, torch.ones_like(ids))[1] is None  # unpadded batches are not touched


def test_align_left_rejects_holes_in_the_mask() -> None:
    with pytest.raises(ValueError, match="contiguous"):
        align_left(torch.zeros(1, 5, dtype=torch.long), torch.tensor([[0, 1, 0, 1, 1]]))
