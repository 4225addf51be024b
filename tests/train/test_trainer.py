"""End-to-end trainer tests on real GUE rows with tiny random models (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genomefactory.config import load_config
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.train.model_io import load_run_model


def subsample_task(src: Path, dst: Path, rows: dict[str, int], regression: bool = False) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for split, n in rows.items():
        df = pd.read_csv(src / f"{split}.csv").head(n)
        if regression:  # a real-valued readout of the real sequences: GC fraction
            df["label"] = df["sequence"].map(lambda s: (s.count("G") + s.count("C")) / len(s))
        df.to_csv(dst / f"{split}.csv", index=False)
    return dst


@pytest.fixture
def tata(shared_data: Path, tmp_path: Path) -> Path:
    return subsample_task(
        shared_data / "gue/prom/prom_core_tata", tmp_path / "tata", {"train": 96, "dev": 32, "test": 32}
    )


@pytest.fixture
def tata_regression(shared_data: Path, tmp_path: Path) -> Path:
    return subsample_task(
        shared_data / "gue/prom/prom_core_tata",
        tmp_path / "tata_reg",
        {"train": 96, "dev": 32, "test": 32},
        regression=True,
    )


def run_tokenizer_ids(seqs: list[str]) -> list[list[int]]:
    """Token ids of the tiny NT v1 tokenizer, as the trainer tokenizes (special tokens added, no padding)."""
    from genomefactory.models import ModelConfig, load_backbone

    tok = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny")).tokenizer
    return [list(x) for x in tok(seqs, add_special_tokens=True)["input_ids"]]


def cfg_for(data: Path, out: Path, method: str, task: str = "classification", **extra: object) -> TrainConfig:
    overrides = {
        "data": {"path": str(data)},
        "output_dir": str(out),
        "task": {"type": task},
        "model": {"family": "nucleotide_transformer", "init": "tiny"},
        "method": {"name": method, "adapter": {"cache_dir": str(out.parent / "cache")}},
        "training": {
            "epochs": 2,
            "batch_size": 16,
            "eval_batch_size": 32,
            "learning_rate": 1e-3,
            "logging_steps": 2,
            "seed": 7,
        },
    }
    for key, value in extra.items():
        section, field = key.split("__")
        overrides[section][field] = value  # type: ignore[index]
    return load_config(TrainConfig, None, overrides)


@pytest.mark.parametrize("method", ["full", "lora", "adapter"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_methods_end_to_end(
    method: str, task: str, tata: Path, tata_regression: Path, tmp_path: Path
) -> None:
    data = tata if task == "classification" else tata_regression
    res = run_train(cfg_for(data, tmp_path / "run", method, task))
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    keys = (
        {"accuracy", "f1", "precision", "recall", "mcc"}
        if task == "classification"
        else {"mse", "mae", "pearson", "spearman", "r2"}
    )
    assert keys <= set(metrics["test"]) and keys <= set(metrics["dev"])
    preds = pd.read_csv(tmp_path / "run/predictions_test.csv")
    assert len(preds) == 32
    if task == "classification":
        probs = preds[["prob_0", "prob_1"]].to_numpy()
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
        acc = float((preds["prediction"] == preds["label"]).mean())
        assert acc == pytest.approx(metrics["test"]["accuracy"])
    log = [json.loads(x) for x in (tmp_path / "run/trainer_log.jsonl").read_text().splitlines()]
    assert any("loss" in x for x in log)
    manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    assert manifest["seed"] == 7 and len(manifest["inputs_sha256"]) == 3
    assert res.trainable_params < res.total_params or method == "full"
    # throughput in the paper's unit: real tokens of the training sequences (padding never counted)
    train_seqs = pd.read_csv(data / "train.csv")["sequence"].tolist()
    mean_tokens = np.mean([len(x) for x in run_tokenizer_ids(train_seqs)])
    assert metrics["train_tokens_per_s"] == pytest.approx(
        metrics["train_samples_per_s"] * mean_tokens, rel=1e-9
    )
    assert (
        res.train_tokens_per_s == pytest.approx(metrics["train_tokens_per_s"]) and res.train_tokens_per_s > 0
    )
    # the saved model reproduces the test predictions
    run = load_run_model(tmp_path / "run")
    df = pd.read_csv(data / "test.csv")
    enc = run.backbone.tokenizer(df["sequence"].tolist()[:4], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = run.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    if task == "classification":
        np.testing.assert_allclose(torch.softmax(logits, -1)[:, 1].numpy(), preds["prob_1"][:4], atol=1e-4)
    else:
        np.testing.assert_allclose(logits[:, 0].numpy(), preds["prediction"][:4], atol=1e-4)


def test_lora_head_trainable_and_all_targets(tata: Path, tmp_path: Path) -> None:
    from genomefactory.models.loading import ModelConfig, load_backbone
    from genomefactory.train.methods import build_task_model

    cfg = cfg_for(tata, tmp_path / "r", "lora")
    cfg.method.lora.target_modules = "all"
    bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny"))
    linears = {n for n, m in bb.base.named_modules() if isinstance(m, torch.nn.Linear)}
    model = build_task_model(bb, cfg.method, "classification", 2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if n.startswith("head.")} == {
        n for n, _ in model.head.named_parameters(prefix="head")
    }
    lora_layers = {n.split(".lora_")[0].removeprefix("backbone.") for n in trainable if ".lora_" in n}
    assert lora_layers == linears  # every backbone linear, nothing else (the head is not LoRA-wrapped)
    assert not any(".lora_" in n for n in trainable if n.startswith("head."))
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith("backbone.") and ".lora_" not in n for n in frozen)


def test_lora_default_targets_feed_forward_only(tata: Path, tmp_path: Path) -> None:
    from genomefactory.models.loading import ModelConfig, load_backbone
    from genomefactory.train.methods import build_task_model

    bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny"))
    model = build_task_model(bb, cfg_for(tata, tmp_path / "r", "lora").method, "classification", 2)
    wrapped = {n.split(".lora_")[0] for n, _ in model.named_parameters() if ".lora_A" in n}
    assert wrapped and all(n.endswith(("intermediate.dense", "output.dense")) for n in wrapped)
    assert not any("attention" in n for n in wrapped)


def test_lora_bad_target_is_clear_error(tata: Path, tmp_path: Path) -> None:
    cfg = cfg_for(tata, tmp_path / "r", "lora")
    cfg.method.lora.target_modules = ["not_a_layer"]
    with pytest.raises(ValueError, match=r"not_a_layer.*matches no linear layer"):
        run_train(cfg)


def test_adapter_cache_hit_skips_backbone(
    tata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_train(cfg_for(tata, tmp_path / "a1", "adapter"))
    assert first.feature_cache_hits == 0
    from genomefactory.train import heads

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("backbone called although features are cached")

    monkeypatch.setattr(heads.TaskModel, "backbone_states", boom)
    second = run_train(cfg_for(tata, tmp_path / "a2", "adapter"))
    assert second.feature_cache_hits == 3
    assert second.test_metrics["mcc"] == pytest.approx(first.test_metrics["mcc"])


def test_adapter_masked_pooling_ignores_padding(tata: Path, tmp_path: Path) -> None:
    from genomefactory.models.loading import ModelConfig, load_backbone
    from genomefactory.train.methods import build_task_model

    bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny"))
    model = build_task_model(bb, cfg_for(tata, tmp_path / "r", "adapter").method, "classification", 2).eval()
    enc_one = bb.tokenizer(["ACGTACGTAC"], return_tensors="pt")
    enc_pad = bb.tokenizer(
        ["ACGTACGTAC", "ACGTACGTACGTACGTACGTACGTACGTAAAAAAAAAAAAAA"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        a = model.pooled(enc_one["input_ids"], enc_one["attention_mask"])[0]
        b = model.pooled(enc_pad["input_ids"], enc_pad["attention_mask"])[0]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_resume_matches_uninterrupted(tata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genomefactory.train import finetune

    full = run_train(cfg_for(tata, tmp_path / "u", "lora", training__epochs=2))

    class Crash(finetune._JsonlLog):
        def on_save(self, args: object, state: object, control: object, **kw: object) -> None:
            if state.global_step == 6:  # type: ignore[attr-defined]
                raise KeyboardInterrupt("simulated interruption after the first checkpoint")

    monkeypatch.setattr(finetune, "_JsonlLog", Crash)
    with pytest.raises(KeyboardInterrupt):
        run_train(cfg_for(tata, tmp_path / "i", "lora", training__epochs=2))
    monkeypatch.undo()
    assert (tmp_path / "i/checkpoint-6").is_dir() and not (tmp_path / "i/metrics.json").exists()
    resumed = run_train(cfg_for(tata, tmp_path / "i", "lora", training__epochs=2, training__resume=True))
    for k in ("mcc", "accuracy", "loss"):
        assert resumed.test_metrics[k] == pytest.approx(full.test_metrics[k], abs=1e-4)


def test_non_empty_output_dir_refused(tata: Path, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy/file.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        run_train(cfg_for(tata, tmp_path / "busy", "lora"))


def _reload_logits(run_dir: Path, data: Path) -> tuple[np.ndarray, np.ndarray]:
    run = load_run_model(run_dir)
    df = pd.read_csv(data / "test.csv")
    enc = run.backbone.tokenizer(df["sequence"].tolist()[:6], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = run.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    preds = pd.read_csv(run_dir / "predictions_test.csv")
    return torch.softmax(logits, -1)[:, 1].numpy(), preds["prob_1"].to_numpy()[:6]


def test_merged_lora_run_reloads(tata: Path, tmp_path: Path) -> None:
    cfg = cfg_for(tata, tmp_path / "m", "lora")
    cfg.method.lora.merge = True
    run_train(cfg)
    meta = json.loads((tmp_path / "m/model/genomefactory_model.json").read_text())
    assert meta["lora_merged"] and meta["weights"] == "full"
    from safetensors.torch import load_file

    assert not any("lora_" in k for k in load_file(str(tmp_path / "m/model/model.safetensors")))
    got, want = _reload_logits(tmp_path / "m", tata)
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("method", ["adapter", "lora"])
def test_pretrained_source_saves_only_trainable(method: str, tata: Path, tmp_path: Path) -> None:
    """A backbone from a checkpoint directory is not copied into the run: only head/LoRA tensors are stored."""
    from safetensors.torch import load_file

    from genomefactory.models import ModelConfig, load_backbone

    bb = load_backbone(ModelConfig(family="nucleotide_transformer", init="tiny"))
    bb.family.save(bb.model, bb.config, tmp_path / "ckpt")
    cfg = cfg_for(tata, tmp_path / "p", method)
    cfg.model = ModelConfig(family="nucleotide_transformer", path=str(tmp_path / "ckpt"))
    run_train(cfg)
    stored = load_file(str(tmp_path / "p/model/model.safetensors"))
    assert stored and all(k.startswith("head.") or "lora_" in k for k in stored)
    got, want = _reload_logits(tmp_path / "p", tata)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_training_arguments_follow_config(tata: Path, tmp_path: Path) -> None:
    from genomefactory.train.finetune import _training_args

    cfg = cfg_for(tata, tmp_path / "x", "lora", training__eval_steps=5, training__lr_scheduler="cosine")
    cfg.training.compile = True
    cfg.training.gradient_accumulation_steps = 4
    args = _training_args(cfg, tmp_path / "x", 1e-3, "mcc", on_features=False)
    assert args.torch_compile and args.gradient_accumulation_steps == 4 and args.eval_steps == 5
    assert args.train_sampling_strategy == "group_by_length" and args.greater_is_better
    assert (
        getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type) == "cosine"
        and args.learning_rate == 1e-3
    )
    assert not _training_args(cfg, tmp_path / "x", 1e-3, "mse", on_features=True).greater_is_better
