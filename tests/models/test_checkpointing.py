"""Activation checkpointing (models/checkpointing.py) for every registered family, on tiny random models (CPU).

Checkpointed and plain runs must give the same loss and the same gradient for every parameter (train mode, RNG
seeded: the recompute replays dropout with the restored RNG state), with left and right padding, LoRA injected, and
the same state-dict keys. Saved-tensor accounting proves the blocks really are recomputed, not run as before.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch
from peft import LoraConfig, inject_adapter_in_model
from torch import nn

from genomefactory.models.checkpointing import (
    CheckpointingUnsupportedError,
    checkpointed_blocks,
    disable_checkpointing,
    enable_checkpointing,
)
from genomefactory.models.pooling import pool
from genomefactory.models.registry import ModelFamily, all_families, get_family
from genomefactory.train.methods.lora import resolve_targets

FAMILIES = [f.name for f in all_families()]
SEQS = ["ACGTACGGTTACGATCGATCGGATCCATGCATTACGGACTTAGCATCAGTACGTAGCTAGCATGACTAGCA", "GATTACAGGCTTAAGCCGTA"]


def _tiny(name: str) -> tuple[ModelFamily, nn.Module, Any]:
    fam = get_family(name)
    cfg = fam.tiny_config()
    torch.manual_seed(0)
    model = fam.build(cfg)
    return fam, model, fam.tokenizer(None, cfg)


def _batch(tok: Any, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    tok.padding_side = side
    enc = tok(SEQS, padding=True, return_tensors="pt")
    mask = enc["attention_mask"]
    assert not bool(mask.all()), "the batch must contain padding"
    return enc["input_ids"], mask


def _loss(fam: ModelFamily, base: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(1)  # same dropout draws in both runs
    states = fam.encode(base, ids, mask).last_hidden_state
    weights = torch.linspace(-1, 1, states.shape[-1])
    return (pool(states, mask, "mean") * weights).sum() + (states * mask[..., None]).pow(2).mean()


def _grads(
    fam: ModelFamily, base: nn.Module, ids: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor | None]]:
    base.zero_grad(set_to_none=True)
    loss = _loss(fam, base, ids, mask)
    loss.backward()
    grads = {n: (p.grad.clone() if p.grad is not None else None) for n, p in base.named_parameters()}
    return loss.detach(), grads


def _saved_bytes(fam: ModelFamily, base: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> int:
    """Bytes autograd keeps for backward during one forward (tensors checkpoint drops are not counted)."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _loss(fam, base, ids, mask)
    return total


def _assert_same(a: dict[str, torch.Tensor | None], b: dict[str, torch.Tensor | None]) -> None:
    assert a.keys() == b.keys()
    assert any(g is not None for g in a.values())
    for name in a:
        ga, gb = a[name], b[name]
        assert (ga is None) == (gb is None), name
        if ga is not None and gb is not None:
            torch.testing.assert_close(gb, ga, rtol=1e-5, atol=1e-5, msg=f"gradient of {name} differs")


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("name", FAMILIES)
def test_same_loss_and_gradients(name: str, side: str) -> None:
    torch.set_num_threads(1)
    fam, model, tok = _tiny(name)
    base = fam.base(model).train()
    ids, mask = _batch(tok, side)
    keys = list(model.state_dict())
    loss0, grads0 = _grads(fam, base, ids, mask)
    saved0 = _saved_bytes(fam, base, ids, mask)
    n = enable_checkpointing(fam, base)
    assert n >= 2 and checkpointed_blocks(base) == n
    assert list(model.state_dict()) == keys  # saving / strict loading see the same model
    loss1, grads1 = _grads(fam, base, ids, mask)
    torch.testing.assert_close(loss1, loss0, rtol=1e-5, atol=1e-5)
    _assert_same(grads0, grads1)
    assert _saved_bytes(fam, base, ids, mask) < 0.7 * saved0, "blocks were not checkpointed"
    with torch.no_grad():  # inference is untouched
        base.eval()
        torch.testing.assert_close(
            fam.encode(base, ids, mask).last_hidden_state[mask.bool()],
            fam.encode(fam.base(_tiny(name)[1]).eval(), ids, mask).last_hidden_state[mask.bool()],
        )
    disable_checkpointing(fam, base)
    assert checkpointed_blocks(base) == 0


@pytest.mark.parametrize("name", FAMILIES)
def test_lora_step_with_checkpointing(name: str) -> None:
    torch.set_num_threads(1)
    fam, model, tok = _tiny(name)
    base = fam.base(model).train()
    ids, mask = _batch(tok, fam.padding_side)
    enable_checkpointing(fam, base)  # before injection: the wrapped blocks must still pick LoRA up
    targets = resolve_targets(base, "default", fam.lora_targets, fam.in_out_proj)
    inject_adapter_in_model(LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=targets), base)
    for n_, p in base.named_parameters():
        p.requires_grad_("lora_" in n_)
    keys = set(model.state_dict())
    _, with_ckpt = _grads(fam, base, ids, mask)
    disable_checkpointing(fam, base)
    _, plain = _grads(fam, base, ids, mask)
    _assert_same(plain, with_ckpt)
    lora_b = {n_: g for n_, g in with_ckpt.items() if "lora_B" in n_}
    assert lora_b and all(g is not None and bool(g.abs().sum() > 0) for g in lora_b.values())
    enable_checkpointing(fam, base)
    params = [p for p in base.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=1e-2)
    opt.zero_grad()
    _loss(fam, base, ids, mask).backward()
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, params, strict=True))
    assert set(model.state_dict()) == keys


@pytest.mark.parametrize("name", ["dnabert2", "nucleotide_transformer_v2"])
def test_packed_attention_path(name: str) -> None:
    torch.set_num_threads(1)
    fam, model, tok = _tiny(name)
    base = fam.base(model).train()
    setattr(base, "attn_path", "packed")  # noqa: B010 (a plain attribute of our module, not a submodule)
    ids, mask = _batch(tok, "right")
    _, plain = _grads(fam, base, ids, mask)
    enable_checkpointing(fam, base)
    _, with_ckpt = _grads(fam, base, ids, mask)
    _assert_same(plain, with_ckpt)


def test_family_without_blocks_is_a_clear_error() -> None:
    fam = get_family("hyenadna")
    bare = replace(fam)
    bare.__class__ = type("NoBlocks", (type(fam),), {"blocks": ModelFamily.blocks})
    base = fam.base(fam.build(fam.tiny_config()))
    with pytest.raises(CheckpointingUnsupportedError, match="does not list its repeated blocks"):
        enable_checkpointing(bare, base)
