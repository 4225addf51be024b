"""Every registered family gets these tests by being registered (tiny random models, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genomefactory.models import ModelConfig, all_families, get_family, load_backbone
from genomefactory.models.pooling import pool
from genomefactory.train.config import MethodConfig
from genomefactory.train.methods import build_task_model

FAMILIES = [f.name for f in all_families()]
SEQS = ["ACGTACGTTAGCCATGACGTAGCTAGCTAGGATCCA", "TTGACA", "GGGCCCAAATTTNACGTACGATCGATGCATGCATCGA"]


@pytest.fixture(params=FAMILIES)
def tiny(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return load_backbone(ModelConfig(family=request.param, init="tiny"))


def test_registry_names_and_variants() -> None:
    assert {"nucleotide_transformer", "genomeocean", "hf_auto"} <= set(FAMILIES)
    for name in FAMILIES:
        fam = get_family(name)
        assert fam.default_variant in fam.variants
        assert fam.kind in ("encoder", "decoder")
        assert fam.lora_targets
    with pytest.raises(KeyError, match="unknown model family"):
        get_family("not-a-model")


def test_tokenize_and_forward_shapes(tiny) -> None:  # type: ignore[no-untyped-def]
    enc = tiny.tokenizer(SEQS, padding=True, return_tensors="pt")
    assert enc["input_ids"].shape[0] == 3 and enc["attention_mask"].sum(1).min() > 0
    tiny.model.eval()
    with torch.no_grad():
        out = tiny.family.encode(
            tiny.base, enc["input_ids"], enc["attention_mask"], output_hidden_states=True
        )
    h = out.last_hidden_state
    assert h.shape == (3, enc["input_ids"].shape[1], tiny.hidden_size)
    assert torch.isfinite(h).all()
    assert out.hidden_states is not None and len(out.hidden_states) >= 2


def test_padding_invariance(tiny) -> None:  # type: ignore[no-untyped-def]
    if not tiny.family.padding_invariant:
        pytest.skip(f"{tiny.family.name} documents that padding changes its outputs")
    tiny.model.eval()
    one = tiny.tokenizer([SEQS[1]], return_tensors="pt")
    many = tiny.tokenizer(SEQS, padding=True, return_tensors="pt")
    with torch.no_grad():
        a = pool(
            tiny.family.encode(tiny.base, one["input_ids"], one["attention_mask"]).last_hidden_state,
            one["attention_mask"],
            "mean",
        )
        b = pool(
            tiny.family.encode(tiny.base, many["input_ids"], many["attention_mask"]).last_hidden_state,
            many["attention_mask"],
            "mean",
        )
    torch.testing.assert_close(a[0], b[1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("method", ["lora", "adapter", "full"])
def test_training_step(tiny, method: str) -> None:  # type: ignore[no-untyped-def]
    model = build_task_model(tiny, MethodConfig(name=method), "classification", 3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-2)
    enc = tiny.tokenizer(SEQS, padding=True, return_tensors="pt")
    model.train()
    out = model(
        input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=torch.tensor([0, 1, 2])
    )
    assert torch.isfinite(out.loss)
    out.loss.backward()
    opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("head.") for n in changed), "the task head must train"
    if method == "lora":
        assert any("lora_" in n for n in changed)
        assert not any(n.startswith("backbone.") and "lora_" not in n for n in changed)
    if method == "adapter":
        assert not any(n.startswith("backbone.") for n in changed)


def test_save_load_round_trip(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fam = tiny.family
    fam.save(tiny.model, tiny.config, tmp_path / "ckpt")
    tiny.tokenizer.save_pretrained(str(tmp_path / "ckpt"))
    again = load_backbone(ModelConfig(family=fam.name, path=str(tmp_path / "ckpt")))
    a, b = tiny.model.state_dict(), again.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert again.tokenizer(SEQS[0])["input_ids"] == tiny.tokenizer(SEQS[0])["input_ids"]


def test_published_configs_build_on_meta() -> None:
    for name in FAMILIES:
        fam = get_family(name)
        if not any(fam.variants.values()):  # no published checkpoint (hf_auto): nothing to size
            continue
        cfg = fam.published_config(fam.default_variant)
        with torch.device("meta"):
            model = fam.build(cfg)
        assert sum(p.numel() for p in model.parameters()) > 1_000_000


def test_attention_path_config() -> None:
    seqs = ["ACGTAGCTAGCTAGGATCCAGT" * 3, "TTGACAGT"]
    outs = []
    for path in ("padded", "packed"):
        torch.manual_seed(0)
        bb = load_backbone(ModelConfig(family="dnabert2", init="tiny", attention_path=path))  # type: ignore[arg-type]
        bb.model.eval()
        enc = bb.tokenizer(seqs, padding=True, return_tensors="pt")
        with torch.no_grad():
            h = bb.family.encode(bb.base, enc["input_ids"], enc["attention_mask"]).last_hidden_state
        outs.append(pool(h, enc["attention_mask"], "mean"))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="no packed attention path"):
        load_backbone(ModelConfig(family="genomeocean", init="tiny", attention_path="packed"))


def test_hf_auto_finds_causal_heads_not_named_causal_lm() -> None:
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    from genomefactory.models.families.hf_auto import _auto_class

    assert _auto_class({"architectures": ["GPT2LMHeadModel"]}) is AutoModelForCausalLM
    assert _auto_class({"architectures": ["LlamaForCausalLM"]}) is AutoModelForCausalLM
    assert _auto_class({"architectures": ["BertForMaskedLM"]}) is AutoModelForMaskedLM
