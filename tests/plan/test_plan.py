"""The memory planner: meta-device counts equal the real model's, the traced activation memory is within 25%
of the peak measured on the CPU, the per-strategy arithmetic, and the command end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from genomefactory.cli import main
from genomefactory.config import validate_dict
from genomefactory.models.registry import get_family
from genomefactory.plan.config import PlanConfig
from genomefactory.plan.memory import Counts, estimate, quantized_bytes_per_weight
from genomefactory.plan.run import plan_model
from genomefactory.plan.trace import meta_model, saved_activation_bytes
from genomefactory.train.config import TrainConfig
from genomefactory.train.methods import build_task_model, count_parameters

from .measure import measured_activation_peak


def _train(family: str, method: str = "full", **training: Any) -> TrainConfig:
    return validate_dict(
        TrainConfig,
        {
            "model": {"family": family, "init": "tiny"},
            "data": {"path": "unused"},
            "method": {"name": method},
            "training": training,
        },
    )


@pytest.mark.parametrize(
    ("family", "length"),
    [
        ("hyenadna", 256),
        ("genomeocean", 256),
        ("nucleotide_transformer_v2", 254),
        ("dnabert2", 254),
        ("evo", 256),
        ("caduceus", 128),
    ],
)
def test_traced_activations_within_25_percent_of_measured_cpu_peak(family: str, length: int) -> None:
    fam = get_family(family)
    cfg = fam.tiny_config()
    est = saved_activation_bytes(fam, fam.base(meta_model(fam, cfg)), 8, length).total
    peak = measured_activation_peak(fam, cfg, 8, length)
    assert 0.75 <= est / peak <= 1.25, (family, est, peak)


@pytest.mark.parametrize("family", ["hyenadna", "nucleotide_transformer", "evo"])
def test_meta_counts_equal_the_real_model(family: str) -> None:
    from genomefactory.models import ModelConfig, load_backbone

    def real(method: str) -> tuple[int, int]:
        backbone = load_backbone(ModelConfig(family=family, init="tiny"))
        return count_parameters(
            build_task_model(backbone, _train(family, method).method, "classification", 2)
        )

    for method in ("full", "lora", "adapter"):
        train = _train(family, method)
        strategies = ["ddp", "qlora"] if method == "full" else ["ddp"]
        cfg = {"train": train.model_dump(), "n_gpus": [1], "lengths": [32], "strategies": strategies}
        plan = plan_model(validate_dict(PlanConfig, cfg), train)
        assert (plan.setups[method].trainable, plan.setups[method].params) == real(method), method
        if method == "full":
            # qlora: LoRA with method.qlora's rank/targets (the lora defaults); quantised = the wide linears
            q = plan.setups["qlora"]
            assert (q.trainable, q.params) == real("lora")
            wide = sum(
                m.weight.numel()
                for m in load_backbone(ModelConfig(family=family, init="tiny")).base.modules()
                if type(m) is torch.nn.Linear and min(m.in_features, m.out_features) >= 64
            )
            assert q.quantized == wide


def test_strategy_arithmetic() -> None:
    c = Counts(params=1000, trainable=400, largest_block=100, quantized=800, bits=4, double_quant=False)
    ddp = estimate("ddp", c, 1, 2, 10, activations=7, compute_bytes=2)
    assert (ddp.weights, ddp.gradients, ddp.optimizer, ddp.activations) == (4000 + 800, 1600, 3200, 7)
    assert estimate("ddp", c, 1, 2, 10, 7, 4).weights == 4000  # fp32: no autocast copies
    assert estimate("ddp", c, 4, 2, 10, 7, 2).gradients == 3200  # + DDP buckets once there are peers
    fsdp = estimate("fsdp", c, 4, 2, 10, 7, 2)
    assert (fsdp.weights, fsdp.gradients, fsdp.optimizer) == (1000 + 400, 400 + 200, 800)
    z2, z3 = estimate("deepspeed_zero2", c, 4, 2, 10, 7, 2), estimate("deepspeed_zero3", c, 4, 2, 10, 7, 2)
    assert (z2.weights, z2.gradients, z2.optimizer) == (2000, 400, (3200 + 1600) // 4)
    assert z3.weights == 500 + 400 and z3.optimizer == z2.optimizer
    assert estimate("deepspeed_zero2", c, 4, 2, 10, 7, 4).optimizer == 800  # fp32: no separate master copy
    q = estimate("qlora", c, 1, 2, 10, 7, 2)
    assert q.weights == int(800 * (0.5 + 4 / 64)) + 4 * 200 + 2 * 400 and q.optimizer == 3200
    assert quantized_bytes_per_weight(4, True) == pytest.approx(0.5 + (1 + 4 / 256) / 64)


def test_checkpointing_keeps_block_inputs_and_one_block() -> None:
    fam = get_family("hyenadna")
    base = fam.base(meta_model(fam, fam.tiny_config()))
    t = saved_activation_bytes(fam, base, 4, 128)
    assert len(t.per_block) == len(fam.blocks(base)) and all(x > 0 for x in t.per_block)
    assert t.block_inputs == (4 * 128 * 32 * 4,) * len(t.per_block)  # (batch, length, d_model) float32
    assert t.checkpointed < t.total


def test_plan_command_prints_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train = tmp_path / "train.yaml"
    train.write_text(
        "model: {family: genomeocean, variant: 4B}\ndata: {path: x}\nmethod: {name: lora}\n"
        "training: {precision: bf16}\n"
    )
    out = tmp_path / "plan.json"
    assert (
        main(
            [
                "plan",
                f"train_file={train}",
                "n_gpus=[1,8]",
                "batch_sizes=[1,8]",
                "lengths=[512,99999]",
                "gpu_memory_gb=40",
                f"output={out}",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "genomeocean 4B" in printed and "length 99999 skipped" in printed
    plan = json.loads(out.read_text())
    assert plan["setups"]["lora"]["params"] > 3e9  # the full-size published config, on the meta device
    rows = plan["rows"]
    assert len(rows) == 5 * 2 * 2 * 1
    for r in rows:
        assert r["total"] == r["weights"] + r["gradients"] + r["optimizer"] + r["activations"]
        assert r["fits"] == (r["total"] + 2 * 1024**3 <= 40 * 1024**3)
    by = {(r["strategy"], r["n_gpus"], r["batch_size"]): r for r in rows}
    # activations scale with the per-GPU batch, not with the GPU count; sharding divides the optimizer states
    assert by[("ddp", 1, 8)]["activations"] == pytest.approx(8 * by[("ddp", 1, 1)]["activations"], rel=0.01)
    assert by[("fsdp", 8, 1)]["optimizer"] == by[("fsdp", 1, 1)]["optimizer"] // 8


def test_plan_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "gpu_memory_gb=80"]) == 2
    assert "exactly one of train" in capsys.readouterr().err
    assert main(["plan", f"train_file={tmp_path / 'missing.yaml'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
