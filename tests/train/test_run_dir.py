"""Run-directory bookkeeping of ``run_train``: best-metric check, overwrite/resume curves, resolved manifest,
truncation count; plus LoRA target and frozen-backbone details. Real GUE rows, tiny NT model, CPU."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from test_trainer import cfg_for, subsample_task

from genomefactory.config import ConfigError
from genomefactory.train.finetune import run_train
from genomefactory.train.metrics import resolve_best_metric


@pytest.fixture
def rows(shared_data: Path, tmp_path: Path) -> Path:
    return subsample_task(
        shared_data / "gue/prom/prom_core_tata", tmp_path / "rows", {"train": 48, "dev": 16, "test": 16}
    )


def _steps(run: Path) -> list[int]:
    """Steps of the training-loss lines of the curve."""
    entries = [json.loads(x) for x in (run / "trainer_log.jsonl").read_text().splitlines()]
    return [e["step"] for e in entries if "loss" in e]


def test_unknown_best_metric_fails_before_training(rows: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"metric_for_best: 'f1_macro' is not a classification metric.*'f1'"
    ):
        run_train(cfg_for(rows, tmp_path / "bad", "full", training__metric_for_best="f1_macro"))
    assert not (tmp_path / "bad").exists()  # nothing trained, nothing written
    with pytest.raises(ConfigError, match="not a regression metric"):
        resolve_best_metric("regression", "mcc")
    # the Trainer's spelling is accepted, and mse stays lower-is-better (an 'eval_mse' name used to flip it)
    assert resolve_best_metric("regression", "eval_mse") == "mse"
    assert resolve_best_metric("classification", None) == "mcc"


def test_truncation_count_and_resolved_manifest(
    rows: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "t"
    with caplog.at_level(logging.WARNING, logger="genomefactory.train"):
        res = run_train(cfg_for(rows, run, "lora", training__epochs=1, data__max_length=8))
    assert res.truncated_rows == 48 + 16 + 16  # 70-bp promoters are ~16 NT tokens
    assert json.loads((run / "metrics.json").read_text())["truncated_rows"] == 80
    assert any(
        "train.csv: 48 of 48 sequences truncated to 8 tokens" in r.getMessage() for r in caplog.records
    )
    resolved = json.loads((run / "manifest.json").read_text())["config"]
    # defaults resolved at run time are recorded as used, so the manifest's config reproduces the run
    assert resolved["training"]["metric_for_best"] == "mcc" and resolved["training"]["learning_rate"] == 1e-3
    assert resolved["method"]["pooling"] == "mean" and resolved["task"]["num_labels"] == 2
    assert resolved["data"]["max_length"] == 8
    from genomefactory.models.registry import get_family
    from genomefactory.train.finetune import _resolved_config

    cfg = cfg_for(rows, run, "lora", model__init="pretrained")
    fam = get_family("nucleotide_transformer")
    assert _resolved_config(cfg, 1e-3, "mcc", "mean", 2, 8, fam)["model"]["variant"] == fam.default_variant


def test_overwrite_starts_a_fresh_curve(rows: Path, tmp_path: Path) -> None:
    run = tmp_path / "o"
    run_train(
        cfg_for(rows, run, "full", training__epochs=1, training__batch_size=8, training__logging_steps=1)
    )
    assert (run / "checkpoint-6").is_dir()
    cfg = cfg_for(rows, run, "full", training__epochs=1, training__batch_size=16, training__logging_steps=1)
    cfg.overwrite = True
    run_train(cfg)
    assert _steps(run) == [1, 2, 3]  # not the first run's 1..6 followed by 1..3
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-3"]  # the old run's is gone


def test_resume_after_crash_between_checkpoints_keeps_one_curve(
    rows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genomefactory.train import finetune

    kw = {"training__epochs": 2, "training__batch_size": 8, "training__logging_steps": 1}
    run_train(cfg_for(rows, tmp_path / "u", "lora", **kw))

    class Crash(finetune._JsonlLog):
        def on_log(
            self, args: object, state: object, control: object, logs: object = None, **k: object
        ) -> None:
            super().on_log(args, state, control, logs, **k)  # type: ignore[arg-type]
            if state.global_step == 8:  # type: ignore[attr-defined]
                raise KeyboardInterrupt("interrupted two steps after checkpoint-6")

    monkeypatch.setattr(finetune, "_JsonlLog", Crash)
    with pytest.raises(KeyboardInterrupt):
        run_train(cfg_for(rows, tmp_path / "i", "lora", **kw))
    monkeypatch.undo()
    assert _steps(tmp_path / "i")[-1] == 8
    run_train(cfg_for(rows, tmp_path / "i", "lora", training__resume=True, **kw))
    assert _steps(tmp_path / "i") == _steps(tmp_path / "u") == list(range(1, 13))


def test_all_in_and_out_proj_without_projections_is_an_error() -> None:
    from torch import nn

    from genomefactory.train.methods.lora import resolve_targets

    base = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    with pytest.raises(ValueError, match="'all_in_and_out_proj' is not defined for this family"):
        resolve_targets(base, "all_in_and_out_proj", ("0",), ())
    assert resolve_targets(base, "all_in_and_out_proj", ("0",), ("1",)) == ["1"]


def test_adapter_backbone_stays_in_eval_mode() -> None:
    from genomefactory.models import ModelConfig, load_backbone
    from genomefactory.train.config import MethodConfig
    from genomefactory.train.methods import build_task_model

    bb = load_backbone(
        ModelConfig(family="nucleotide_transformer", init="tiny", tiny_overrides={"hidden_dropout_prob": 0.5})
    )
    model = build_task_model(bb, MethodConfig(name="adapter"), "classification", 2).train()
    assert model.head.training and model.backbone is not None and not model.backbone.training
    ids = bb.tokenizer(["ACGTACGTACGTAAACCCGGGTTT"], return_tensors="pt")["input_ids"]
    mask = torch.ones_like(ids)
    torch.testing.assert_close(model.backbone_states(ids, mask), model.backbone_states(ids, mask))
    lora = build_task_model(
        load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny")),
        MethodConfig(name="lora"),
        "classification",
        2,
    ).train()
    assert lora.backbone is not None and lora.backbone.training  # a backbone that learns keeps its dropout
