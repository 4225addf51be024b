"""ALiBi slopes/bias and rotary embeddings against closed forms and direct (loop) computations."""

from __future__ import annotations

import math

import pytest
import torch

from genomefactory.models.layers.alibi import alibi_bias, alibi_slopes
from genomefactory.models.layers.rotary import RotaryEmbedding, rotary_inv_freq


def test_alibi_slopes_12_heads_closed_form() -> None:
    # DNABERT-2's 12 heads: the 8-head series 2^-1..2^-8, then the odd terms of the 16-head series
    expected = [2.0**-k for k in range(1, 9)] + [2.0**-0.5, 2.0**-1.5, 2.0**-2.5, 2.0**-3.5]
    assert alibi_slopes(12).tolist() == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16])
def test_alibi_slopes_power_of_two_is_geometric(n: int) -> None:
    start = 2.0 ** (-8.0 / n)
    assert alibi_slopes(n).tolist() == pytest.approx([start ** (k + 1) for k in range(n)], rel=1e-7)


def test_alibi_slopes_non_power_of_two_interleave() -> None:
    s6 = alibi_slopes(6).tolist()  # 4-head series 2^-2,-4,-6,-8 then 2^-1, 2^-3 from the 8-head series
    assert s6 == pytest.approx([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3], rel=1e-7)
    with pytest.raises(ValueError, match="n_heads"):
        alibi_slopes(0)


def test_alibi_bias_is_symmetric_negative_distance() -> None:
    slopes = alibi_slopes(3)
    bias = alibi_bias(slopes, 5)
    assert bias.shape == (3, 5, 5)
    for h in range(3):
        for i in range(5):
            for j in range(5):
                assert bias[h, i, j].item() == pytest.approx(-slopes[h].item() * abs(i - j))


def _rotate_direct(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Each pair (c, c + d/2) at position p turned by angle p * base^(-2c/d), one scalar at a time."""
    *_, length, d = x.shape
    out = torch.empty_like(x)
    half = d // 2
    for p in range(length):
        for c in range(half):
            theta = p * base ** (-2.0 * c / d)
            a, b = x[..., p, c], x[..., p, c + half]
            out[..., p, c] = a * math.cos(theta) - b * math.sin(theta)
            out[..., p, c + half] = b * math.cos(theta) + a * math.sin(theta)
    return out


def test_rotary_equals_direct_computation() -> None:
    torch.manual_seed(0)
    rope = RotaryEmbedding(8)
    q, k = torch.randn(2, 3, 7, 8, dtype=torch.float64), torch.randn(2, 3, 7, 8, dtype=torch.float64)
    rq, rk = rope(q, k)
    torch.testing.assert_close(rq, _rotate_direct(q), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(rk, _rotate_direct(k), atol=1e-6, rtol=1e-6)
    assert torch.allclose(rope.inv_freq, rotary_inv_freq(8))
    assert "inv_freq" in rope.state_dict()  # the NT-v2 checkpoints store it


def test_rotary_scores_depend_only_on_relative_position() -> None:
    torch.manual_seed(0)
    rope = RotaryEmbedding(16)
    q0, k0 = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    length = 12
    q = q0.expand(1, 1, length, 16).clone()
    k = k0.expand(1, 1, length, 16).clone()
    rq, rk = rope(q, k)
    scores = (rq[0, 0] @ rk[0, 0].T).numpy()
    for off in range(-3, 4):
        diag = [scores[i, i + off] for i in range(max(0, -off), min(length, length - off))]
        assert max(diag) - min(diag) < 1e-5  # tables are float32, as in ESM


def test_rotary_rejects_odd_head_dim() -> None:
    with pytest.raises(ValueError, match="even head dimension"):
        RotaryEmbedding(7)
