"""Mask-aware pooling equals pooling over the unpadded sequence, for left and right padding."""

from __future__ import annotations

import pytest
import torch

from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.pooling import pool

LENGTHS = [5, 2, 7, 1]


def _padded(side: str) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randn(n, 6, generator=g) for n in LENGTHS]
    width = max(LENGTHS)
    # padding holds large garbage so any leak into the result is visible
    hidden = torch.full((len(seqs), width, 6), 1e4)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        sl = slice(width - len(s), width) if side == "left" else slice(0, len(s))
        hidden[i, sl] = s
        mask[i, sl] = 1
    return hidden, mask, seqs


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("how", ["mean", "max", "cls", "last"])
def test_pool_matches_unpadded(side: str, how: str) -> None:
    hidden, mask, seqs = _padded(side)
    got = pool(hidden, mask, how)
    for i, s in enumerate(seqs):
        want = {"mean": s.mean(0), "max": s.max(0).values, "cls": s[0], "last": s[-1]}[how]
        torch.testing.assert_close(got[i], want)


def test_token_pooling_zeroes_padding_and_bf16_mean_is_accurate() -> None:
    hidden, mask, _ = _padded("left")
    tok = pool(hidden, mask, "token")
    assert tok.shape == hidden.shape
    assert torch.all(tok[mask == 0] == 0)
    x = torch.full((1, 4096, 2), 1.0 + 2**-7, dtype=torch.bfloat16)
    assert pool(x, torch.ones(1, 4096), "mean").float()[0, 0] == pytest.approx(1.0 + 2**-7)


def test_pool_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown pooling"):
        pool(torch.zeros(1, 2, 3), torch.ones(1, 2), "median")
    with pytest.raises(ValueError, match="no real token"):
        pool(torch.zeros(2, 2, 3), torch.tensor([[1, 1], [0, 0]]), "mean")
    with pytest.raises(ValueError, match="does not match"):
        pool(torch.zeros(2, 2, 3), torch.ones(2, 3), "mean")


@pytest.mark.parametrize("family", ["genomeocean", "hf_auto"])
def test_padded_batch_embedding_equals_single(family: str) -> None:
    """Left-padded decoder / right-padded encoder: a sequence in a padded batch embeds as it does alone."""
    from genomefactory.infer.embed import Embedder

    emb = Embedder(load_backbone(ModelConfig(family=family, init="tiny")), pooling="mean", batch_size=8)
    seqs = ["ACGTACGGTACCA" * 5, "ACGTTGCA", "GGGCCCATATAT" * 3]
    together, _, _ = emb.embed(seqs)
    for s, v in zip(seqs, together, strict=True):
        alone, _, _ = emb.embed([s])
        torch.testing.assert_close(torch.from_numpy(v), torch.from_numpy(alone[0]), atol=1e-5, rtol=1e-5)
