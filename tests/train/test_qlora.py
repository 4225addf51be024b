"""QLoRA: the missing-backend errors (always run), and, where bitsandbytes is installed, the quantised build and
a whole train -> save -> reload run on the CPU (the method's CUDA check patched out: bitsandbytes' CPU kernels
compute the same 4-bit products, so the method's own logic is tested without a GPU)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from genomefactory.errors import MissingExtraError
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.train.config import MethodConfig
from genomefactory.train.methods import build_task_model, method_names
from genomefactory.train.methods import qlora as qlora_mod

HAS_BNB = importlib.util.find_spec("bitsandbytes") is not None
needs_bnb = pytest.mark.skipif(not HAS_BNB, reason="bitsandbytes (extra qlora) is not installed")


def _method(**settings: Any) -> Any:
    return MethodConfig.model_validate({"name": "qlora", "qlora": settings})


def test_qlora_is_a_registered_method_after_the_builtins() -> None:
    assert method_names()[:4] == ["full", "lora", "adapter", "qlora"]


def test_missing_bitsandbytes_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        qlora_mod.importlib.util, "find_spec", lambda n, *a: None if n == "bitsandbytes" else real(n, *a)
    )
    bb = load_backbone(ModelConfig(family="hyenadna", init="tiny"))
    with pytest.raises(MissingExtraError) as e:
        build_task_model(bb, _method(), "classification", 2)
    assert 'pip install "genomefactory[qlora]"' in str(e.value) and "\n" not in str(e.value)


def test_no_cuda_device_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qlora_mod.importlib.util, "find_spec", lambda n, *a: object())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny"))
    with pytest.raises(MissingExtraError, match=r"needs a CUDA GPU.*method\.name: lora"):
        build_task_model(bb, _method(), "classification", 2)


@pytest.fixture
def on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qlora_mod.QLoRA, "device", lambda self: torch.device("cpu"))
    if HAS_BNB:
        import bitsandbytes.nn.modules as bnb_modules

        # bitsandbytes' repacked AVX512-BF16 CPU inference path (eval mode only) asserts block-divisible widths
        # that tiny models do not have; the training path, used here in eval too, computes the same products
        monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: False)


# tiny configs widened to 64: bitsandbytes 0.50's CPU 4-bit kernels mis-handle rows shorter than their 64-value
# block (quantiser: 0.2-0.4 relative error at in_features 32, checked against a brute-force NF4 rounding;
# inference gemv: a reshape error). Real models' layers, and the default min_features, are all >= 64 wide.
WIDE = {
    "hyenadna": {"d_model": 64},
    "evo": {"hidden_size": 64, "num_filters": 64},
    "genomeocean": {"hidden_size": 64, "head_dim": 16, "intermediate_size": 128},
    "nucleotide_transformer": {"hidden_size": 64, "intermediate_size": 128},
}


@needs_bnb
@pytest.mark.usefixtures("on_cpu")
@pytest.mark.parametrize("family", sorted(WIDE))
@pytest.mark.parametrize("bits", [4, 8])
def test_quantised_backbone_full_precision_lora_and_head(family: str, bits: int) -> None:
    import bitsandbytes as bnb

    bb = load_backbone(ModelConfig(family=family, init="tiny", tiny_overrides=WIDE[family]))
    original = {
        n: m.weight.detach().clone() for n, m in bb.base.named_modules() if type(m) is torch.nn.Linear
    }
    model = build_task_model(bb, _method(bits=bits, compute_dtype="fp32"), "classification", 2)
    kinds = (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)
    quantised = {n for n, m in model.backbone.named_modules() if isinstance(m, kinds)}
    small = {n for n, w in original.items() if min(w.shape) < 64}
    # every linear at least min_features wide is quantised (inside its LoRA wrapper when targeted), no other one
    assert {n.removesuffix(".base_layer") for n in quantised} == set(original) - small
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert all(p.dtype == torch.float32 for p in trainable.values())
    # the quantised weights are the original ones within the 4/8-bit rounding (NF4 of a Gaussian: ~9% relative)
    from peft.utils.integrations import dequantize_module_weight

    assert quantised
    for name in quantised:
        ref = original[name.removesuffix(".base_layer")]
        w = dequantize_module_weight(model.backbone.get_submodule(name)).float()
        rel = (w - ref).norm() / ref.norm()
        assert rel < (0.12 if bits == 4 else 0.02), (name, float(rel))
    # gradients reach the LoRA tensors through the quantised products; saving folds them into plain linears
    for n, p in trainable.items():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.1)  # non-zero LoRA, so the merge is tested for real
    ids = torch.randint(4, 8, (3, 24))
    mask = torch.ones_like(ids)
    mask[0, 18:] = 0
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 1]))
    out.loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in trainable.items() if "lora_A" in n)
    model.eval()
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask).logits
        meta = qlora_mod.QLORA.before_save(model, _method())
        after = model(input_ids=ids, attention_mask=mask).logits
    assert meta["lora_merged"] and meta["qlora_dequantized_layers"] == len(quantised)
    assert not any(isinstance(m, kinds) for m in model.modules())
    assert not any("lora_" in k for k in model.state_dict())
    if bits == 4:  # the 4-bit product is de-quantised weight x input: the merged model is the same function
        torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    else:  # LLM.int8 also rounds the activations to int8 (fp16 outliers): close, not equal
        assert (after - before).norm() / before.norm() < 0.05


@needs_bnb
@pytest.mark.usefixtures("on_cpu")
def test_train_save_reload_predicts_the_same(shared_data: Path, tmp_path: Path) -> None:
    from genomefactory.config import load_config
    from genomefactory.train.config import TrainConfig
    from genomefactory.train.finetune import run_train
    from genomefactory.train.model_io import load_run_model

    data = tmp_path / "tata"
    data.mkdir()
    for split, n in {"train": 64, "dev": 16, "test": 16}.items():
        pd.read_csv(shared_data / f"gue/prom/prom_core_tata/{split}.csv").head(n).to_csv(
            data / f"{split}.csv", index=False
        )
    cfg = load_config(
        TrainConfig,
        None,
        {
            "data": {"path": str(data)},
            "output_dir": str(tmp_path / "run"),
            "model": {"family": "hyenadna", "init": "tiny", "tiny_overrides": WIDE["hyenadna"]},
            "method": {"name": "qlora", "qlora": {"compute_dtype": "fp32"}},
            "training": {"epochs": 1, "batch_size": 16, "learning_rate": 1e-3, "seed": 3},
        },
    )
    res = run_train(cfg)
    assert res.trainable_params < res.total_params
    meta = json.loads((tmp_path / "run/model/genomefactory_model.json").read_text())
    assert meta["weights"] == "full" and meta["lora_merged"]
    run = load_run_model(tmp_path / "run")  # rebuilt as a plain full model: no bitsandbytes layer
    assert not any("bitsandbytes" in type(m).__module__ for m in run.model.modules())
    df = pd.read_csv(data / "test.csv")
    enc = run.backbone.tokenizer(df["sequence"].tolist()[:6], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = run.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    want = pd.read_csv(tmp_path / "run/predictions_test.csv")["prob_1"].to_numpy()[:6]
    np.testing.assert_allclose(torch.softmax(logits, -1)[:, 1].numpy(), want, atol=1e-4)


def test_bits_other_than_4_or_8_is_a_config_error() -> None:
    from genomefactory.config import ConfigError, load_config
    from genomefactory.train.config import TrainConfig

    with pytest.raises(ConfigError, match=r"method\.qlora\.bits.*4 or 8"):
        load_config(
            TrainConfig, None, {"data": {"path": "x"}, "method": {"name": "qlora", "qlora": {"bits": 3}}}
        )
