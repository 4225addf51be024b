"""``training.distributed`` without a launcher: config, engine arguments, the meta skeleton, missing DeepSpeed.

The sharded runs themselves are in ``tests/distributed/test_fsdp.py`` (torchrun, gloo) and ``tests/gpu``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import torch

from genomefactory.config import load_config
from genomefactory.errors import MissingExtraError
from genomefactory.models.config import ModelConfig
from genomefactory.models.loading import load_backbone
from genomefactory.train.config import MethodConfig, TrainConfig
from genomefactory.train.methods import get_method
from genomefactory.train.sharding import (
    DeepSpeedConfig,
    FsdpConfig,
    meta_copy,
    sharding_arguments,
)


def _task_model(family: str, method: str = "full") -> torch.nn.Module:
    bb = load_backbone(ModelConfig(family=family, init="tiny"))
    return get_method(method).build(bb, MethodConfig(name=method), "classification", 2)


@pytest.mark.parametrize("family", ["nucleotide_transformer", "evo", "hyenadna", "dnabert2"])
def test_fsdp_wraps_the_classes_of_the_family_blocks(family: str) -> None:
    model = _task_model(family)
    blocks = model.family.blocks(model.backbone)
    args = sharding_arguments(
        "fsdp", FsdpConfig(), DeepSpeedConfig(), "bf16", model.family, model.backbone, True
    )
    cfg = args["fsdp_config"]
    assert args["fsdp"] is True and cfg["version"] == 2 and cfg["state_dict_type"] == "FULL_STATE_DICT"
    assert cfg["transformer_layer_cls_to_wrap"] == sorted({type(b).__name__ for b in blocks})
    # every named class is found in the model (what accelerate's wrap policy looks up by name)
    names = {type(m).__name__ for m in model.modules()}
    assert set(cfg["transformer_layer_cls_to_wrap"]) <= names


def test_plain_process_and_ddp_select_no_engine() -> None:
    model = _task_model("nucleotide_transformer")
    for distributed, launched in (("fsdp", False), ("deepspeed", False), ("ddp", True)):
        fam, base = model.family, model.backbone
        assert (
            sharding_arguments(distributed, FsdpConfig(), DeepSpeedConfig(), "fp32", fam, base, launched)
            == {}
        )


def test_deepspeed_config_follows_stage_and_offload() -> None:
    model = _task_model("nucleotide_transformer")
    ds = DeepSpeedConfig(zero_stage=3, offload=True)
    zero = sharding_arguments("deepspeed", FsdpConfig(), ds, "bf16", model.family, model.backbone, True)[
        "deepspeed"
    ]
    assert zero["zero_optimization"]["stage"] == 3
    assert zero["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert zero["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert zero["bf16"] == {"enabled": True}
    two = sharding_arguments(
        "deepspeed", FsdpConfig(), DeepSpeedConfig(zero_stage=2), "fp32", model.family, model.backbone, True
    )["deepspeed"]["zero_optimization"]
    assert two["stage"] == 2 and "offload_param" not in two and "offload_optimizer" not in two


def test_zero_stage_is_checked() -> None:
    with pytest.raises(ValueError, match="zero_stage"):
        load_config(TrainConfig, None, {"data": {"path": "x"}, "training": {"deepspeed": {"zero_stage": 1}}})


def test_meta_skeleton_takes_no_memory_keeps_ties_and_loads_the_state() -> None:
    model = _task_model("evo", "lora")
    skeleton = meta_copy(model)
    assert all(p.is_meta for p in skeleton.parameters())
    base = skeleton.backbone
    assert base.unembed.weight is base.embedding_layer.weight  # tied stays tied
    assert [p.requires_grad for p in skeleton.parameters()] == [p.requires_grad for p in model.parameters()]
    skeleton.load_state_dict(model.state_dict(), strict=True, assign=True)
    assert not any(p.is_meta for p in skeleton.parameters())
    ids = torch.randint(65, 90, (2, 24))
    mask = torch.ones_like(ids)
    model.eval()
    skeleton.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            skeleton(input_ids=ids, attention_mask=mask).logits,
            model(input_ids=ids, attention_mask=mask).logits,
            rtol=0,
            atol=0,
        )


def test_evo_declares_its_modal_filters_float32() -> None:
    from genomefactory.models.layers.striped_hyena import HyenaBlock, ModalFilter

    model = _task_model("evo")
    mods = model.family.fp32_modules(model.backbone)
    assert mods and all(isinstance(m, ModalFilter) for m in mods)
    assert len(mods) == sum(isinstance(b, HyenaBlock) for b in model.backbone.blocks)
    nt = _task_model("nucleotide_transformer")
    assert nt.family.fp32_modules(nt.backbone) == []


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed")
def test_missing_deepspeed_is_one_clear_error_before_anything_is_written(tmp_path: Path) -> None:
    data = tmp_path / "task"
    data.mkdir()
    for split in ("train", "dev", "test"):
        pd.DataFrame({"sequence": ["ACGT" * 4, "TTGA" * 4], "label": [0, 1]}).to_csv(data / f"{split}.csv")
    cfg = load_config(
        TrainConfig,
        None,
        {
            "data": {"path": str(data)},
            "output_dir": str(tmp_path / "run"),
            "model": {"family": "nucleotide_transformer", "init": "tiny"},
            "training": {"distributed": "deepspeed"},
        },
    )
    from genomefactory.train.finetune import run_train

    with pytest.raises(MissingExtraError, match=r"deepspeed.*genomefactory\[deepspeed\]"):
        run_train(cfg)
    assert not (tmp_path / "run").exists()


def test_one_full_fine_tuning_step_of_tiny_evo_trains_every_parameter() -> None:
    """Full FT of Evo: one AdamW step moves every parameter (poles and residues included), keeps the output
    embedding tied, and a bf16 cast of the trained model keeps the poles and residues float32."""
    model = _task_model("evo")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(65, 90, (4, 32))
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([0, 1, 0, 1]))
    out.loss.backward()
    opt.step()
    unchanged = [n for n, p in model.named_parameters() if torch.equal(p.detach(), before[n])]
    assert unchanged == []
    base = model.backbone
    assert base.unembed.weight is base.embedding_layer.weight
    base.to(torch.bfloat16)
    assert {p.dtype for n, p in base.named_parameters() if n.endswith(("poles", "residues"))} == {
        torch.float32
    }
    assert base.blocks[0].mlp.l1.weight.dtype == torch.bfloat16
