"""Padding-free packed path (models/layers/varlen.py) against the padded path, DNABERT-2 and NT-v2 (CPU)."""

from __future__ import annotations

import pytest
import torch

from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.layers.varlen import pack, repad, set_attention_path, unpad

FAMILIES = ["dnabert2", "nucleotide_transformer_v2"]
LENGTHS = [37, 5, 50, 1, 23]


def _batch(vocab: int, lengths: list[int], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, vocab, (len(lengths), width), generator=g)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids.masked_fill(mask == 0, 1), mask  # pad ids are never read at real positions


@pytest.fixture(params=FAMILIES)
def base(request: pytest.FixtureRequest) -> torch.nn.Module:
    bb = load_backbone(ModelConfig(family=request.param, init="tiny"))
    return bb.base.eval()


def _run(base: torch.nn.Module, path: str, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    set_attention_path(base, path)
    out = base(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    return (out.last_hidden_state, *out.hidden_states)


def test_packed_equals_padded_forward(base: torch.nn.Module) -> None:
    vocab = int(base.get_input_embeddings().num_embeddings)  # type: ignore[operator]
    ids, mask = _batch(vocab, LENGTHS, 56)  # 6 columns of padding beyond the longest sequence
    with torch.no_grad():
        padded = _run(base, "padded", ids, mask)
        packed = _run(base, "packed", ids, mask)
    real = mask.bool()
    assert len(padded) == len(packed)
    for a, b in zip(padded, packed, strict=True):
        torch.testing.assert_close(b[real], a[real], atol=1e-4, rtol=1e-4)
        assert b[~real].abs().max() == 0  # packed output is exactly zero at padding
    # each sequence alone (no padding at all) gives its rows of the batch: positions restart per sequence and
    # no token attends to another sequence
    with torch.no_grad():
        alone = base(input_ids=ids[1:2, :5], attention_mask=mask[1:2, :5]).last_hidden_state
    torch.testing.assert_close(packed[0][1, :5], alone[0], atol=1e-4, rtol=1e-4)


def test_packed_equals_padded_gradients(base: torch.nn.Module) -> None:
    vocab = int(base.get_input_embeddings().num_embeddings)  # type: ignore[operator]
    ids, mask = _batch(vocab, LENGTHS, 50)
    grads = []
    for path in ("padded", "packed"):
        base.zero_grad()
        h = _run(base, path, ids, mask)[0]
        (h * mask[..., None]).pow(2).sum().backward()
        grads.append({n: p.grad.clone() for n, p in base.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 5
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-4, rtol=1e-4, msg=name)


def test_other_sequences_do_not_leak(base: torch.nn.Module) -> None:
    vocab = int(base.get_input_embeddings().num_embeddings)  # type: ignore[operator]
    ids, mask = _batch(vocab, LENGTHS, 50)
    changed = ids.clone()
    changed[2] = torch.randint(5, vocab, (50,), generator=torch.Generator().manual_seed(9))
    set_attention_path(base, "packed")
    with torch.no_grad():
        a = base(input_ids=ids, attention_mask=mask).last_hidden_state
        b = base(input_ids=changed, attention_mask=mask).last_hidden_state
    keep = [0, 1, 3, 4]
    torch.testing.assert_close(a[keep], b[keep], atol=0, rtol=0)
    assert not torch.allclose(a[2], b[2])


def test_pack_bookkeeping_and_errors() -> None:
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]])
    p = pack(mask)
    assert p.cu_seqlens.tolist() == [0, 3, 4, 6] and p.max_len == 3 and p.total == 6
    assert p.positions.tolist() == [0, 1, 2, 0, 0, 1]
    x = torch.arange(12.0).view(3, 4, 1)
    assert unpad(x, p).flatten().tolist() == [0, 1, 2, 4, 8, 9]
    back = repad(unpad(x, p), p)
    assert torch.equal(back, x * mask[..., None])
    with pytest.raises(ValueError, match="right-padded"):
        pack(torch.tensor([[0, 1, 1]]))
    with pytest.raises(ValueError, match="unknown"):
        set_attention_path(torch.nn.Linear(2, 2), "flash")
    with pytest.raises(ValueError, match="no packed attention path"):
        set_attention_path(torch.nn.Linear(2, 2), "packed")
