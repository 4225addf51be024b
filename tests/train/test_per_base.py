"""Per-base tasks: the planted-signal acceptance run through the trainer, every family x method one step,
token -> base mapping against the tokenizer's own offsets, metrics against brute-force scikit-learn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from per_base_helpers import planted_windows, write_task
from sklearn import metrics as skm

from genomefactory.config import load_config
from genomefactory.errors import DataError, MissingExtraError
from genomefactory.models import ModelConfig, load_backbone
from genomefactory.models.registry import all_families
from genomefactory.train.config import MethodConfig, TrainConfig
from genomefactory.train.finetune import run_train
from genomefactory.train.methods import get_method, method_names
from genomefactory.train.model_io import load_run_model
from genomefactory.train.per_base import PerBaseCollator, PerBaseDataset, PerBaseTaskModel, encode_per_base
from genomefactory.train.per_base_metrics import eval_metrics


def per_base_cfg(data: Path, out: Path, family: str, method: str, **training: Any) -> TrainConfig:
    return load_config(
        TrainConfig,
        None,
        {
            "data": {"path": str(data)},
            "output_dir": str(out),
            "task": {"type": training.pop("task", "per_base_classification")},
            "model": {"family": family, "init": "tiny"},
            "method": {"name": method, "adapter": {"cache_dir": str(out.parent / "cache")}},
            "training": {
                "epochs": 1,
                "batch_size": 16,
                "eval_batch_size": 32,
                "learning_rate": 3e-3,
                "logging_steps": 5,
                "seed": 1,
                **training,
            },
        },
    )


def test_planted_signal_reaches_f1_09(tmp_path: Path) -> None:
    """Acceptance: a tiny single-base model learns a planted per-base signal (class = segment, not letter)."""
    data = write_task(tmp_path / "task", {"train": 192, "dev": 32, "test": 64}, length=64)
    res = run_train(per_base_cfg(data, tmp_path / "run", "hyenadna", "full", epochs=3))
    assert res.test_metrics["f1"] >= 0.9, res.test_metrics
    # letter identity alone would give ~0.85: the model used the context
    preds = pd.read_csv(tmp_path / "run" / "predictions_test.csv")
    test = pd.read_csv(data / "test.tsv", sep="\t")
    assert len(preds) == len(test)
    pred = np.concatenate([np.array(p.split(","), dtype=int) for p in preds["prediction"]])
    true = np.concatenate([np.array(t.split(","), dtype=int) for t in test["label"]])
    assert skm.f1_score(true, pred, average="macro") == pytest.approx(res.test_metrics["f1"], abs=1e-9)


def _methods() -> list[Any]:
    return [pytest.param(m, id=m) for m in method_names()]


@pytest.mark.parametrize("method", _methods())
@pytest.mark.parametrize("family", [f.name for f in all_families()])
def test_one_per_base_step_every_family_and_method(family: str, method: str) -> None:
    """A per-base training step for every registered family x method: the per-base logits are the head's
    output at the token the tokenizer's offsets (transformers' own path) put each base in, and the step changes
    the trainable weights."""
    torch.manual_seed(0)
    backbone = load_backbone(ModelConfig(family=family, init="tiny"))
    method_cfg = MethodConfig.model_validate({"name": method, "head_dropout": 0.0})
    try:
        model = get_method(method).build(backbone, method_cfg, "per_base_classification", 3)
    except MissingExtraError as exc:  # e.g. qlora without bitsandbytes
        pytest.skip(f"{method}: {exc}")
    assert isinstance(model, PerBaseTaskModel)
    seqs, labels = planted_windows(3, 40, np.random.default_rng(0))
    seqs[1] = seqs[1][:29]  # uneven lengths: padding in the batch
    tok = backbone.tokenizer
    ids, index, _ = encode_per_base(tok, seqs, backbone.max_tokens, "test")
    collate = PerBaseCollator(tok.pad_token_id, tok.padding_side, regression=False)
    tracks = np.empty(3, dtype=object)
    tracks[:] = [lab[: len(s)] for lab, s in zip(labels, seqs, strict=True)]
    batch = collate([PerBaseDataset(ids, index, tracks)[i] for i in range(3)])
    model.eval()
    with torch.no_grad():
        out = model(**batch)
        token_logits = model.head(model.backbone_states(batch["input_ids"], batch["attention_mask"]))
    assert out.logits.shape == (3, 40, 3)
    for row, seq in enumerate(seqs):
        enc = tok(seq, return_offsets_mapping=True, return_special_tokens_mask=True)
        pad = batch["input_ids"].shape[1] - len(enc["input_ids"]) if tok.padding_side == "left" else 0
        expected = torch.full((len(seq), 3), float("nan"))
        for t, ((a, b), sp) in enumerate(zip(enc["offset_mapping"], enc["special_tokens_mask"], strict=True)):
            if not sp:
                expected[a:b] = token_logits[row, t + pad]
        assert not torch.isnan(expected).any(), f"{family}: a base without a token"
        torch.testing.assert_close(out.logits[row, : len(seq)], expected)
        assert out.base_mask[row, : len(seq)].all() and not out.base_mask[row, len(seq) :].any()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in trainable]
    loss = model(**batch).loss
    assert torch.isfinite(loss)
    loss.backward()
    torch.optim.SGD(trainable, lr=1.0).step()
    changed = sum(not torch.equal(a, p) for a, p in zip(before, trainable, strict=True))
    assert changed > 0 and all(p.grad is not None for p in model.head.parameters())


@pytest.mark.parametrize("method", ["lora", "adapter"])
def test_kmer_model_through_the_trainer_and_reload(method: str, tmp_path: Path) -> None:
    """NT (6-mers) per-base regression end to end with LoRA / adapter (cached token states): the reloaded model
    reproduces the test predictions."""
    data = write_task(tmp_path / "task", {"train": 32, "dev": 8, "test": 8}, length=48, regression=True)
    run = tmp_path / "run"
    res = run_train(
        per_base_cfg(data, run, "nucleotide_transformer", method, task="per_base_regression", max_steps=2)
    )
    assert {"pearson", "spearman", "pearson_window", "spearman_window", "mse"} <= set(res.test_metrics)
    loaded = load_run_model(run)
    test = pd.read_csv(data / "test.tsv", sep="\t")
    tok = loaded.backbone.tokenizer
    ids, index, _ = encode_per_base(tok, test["sequence"].tolist(), loaded.max_length, "t")
    batch = PerBaseCollator(tok.pad_token_id, tok.padding_side, True)(
        [PerBaseDataset(ids, index, None)[i] for i in range(len(ids))]
    )
    with torch.no_grad():
        values = loaded.model(**batch).logits[..., 0].numpy()
    written = pd.read_csv(run / "predictions_test.csv")["prediction"]
    # the adapter's test predictions come from the feature cache, which stores token states in float16
    tol = 2e-3 if method == "adapter" else 1e-4
    for row, text in enumerate(written):
        np.testing.assert_allclose(
            np.array(text.split(","), dtype=float), values[row, :48], rtol=tol, atol=tol
        )


def test_metrics_ignore_padding_and_special_tokens() -> None:
    """Hand example: two windows of 4 and 2 bases padded to 5 (the Trainer's -100 padding), one unlabeled base;
    the metrics equal scikit-learn on the 5 counted bases only."""
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 5, 3))
    labels = np.array([[0, 2, 1, -100, -100], [2, 1, -100, -100, -100]])
    mask = np.array([[1, 1, 1, 1, -100], [1, 1, 0, 0, -100]], dtype=float)  # row 0 base 3: no label
    # garbage where nothing counts: would change every metric if it leaked in
    logits[0, 3:] = logits[1, 2:] = [50.0, -50.0, 0.0]
    got = eval_metrics("per_base_classification", (logits, mask), labels)
    keep = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    y = np.array([labels[r, c] for r, c in keep])
    z = np.array([logits[r, c] for r, c in keep])
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    assert got["f1"] == pytest.approx(skm.f1_score(y, z.argmax(-1), average="macro"))
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y, z.argmax(-1)))
    for k in range(3):
        assert got[f"auprc_{k}"] == pytest.approx(skm.average_precision_score(y == k, p[:, k]))
    # regression: NaN = no value; per-window correlation only over windows with >= 2 counted, varying bases
    pred = rng.normal(size=(2, 5, 1))
    target = np.array([[0.1, 0.5, 0.2, 0.9, -100], [1.0, np.nan, 3.0, 2.0, -100]])
    rmask = np.array([[1, 1, 1, 1, -100], [1, 1, 1, 1, -100]], dtype=float)
    reg = eval_metrics("per_base_regression", (pred, rmask), target)
    cells = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3)]
    pt = np.array([pred[r, c, 0] for r, c in cells])
    tt = np.array([target[r, c] for r, c in cells])
    assert reg["pearson"] == pytest.approx(np.corrcoef(pt, tt)[0, 1])
    assert reg["mse"] == pytest.approx(np.mean((pt - tt) ** 2))
    w0 = np.corrcoef(pred[0, :4, 0], target[0, :4])[0, 1]
    w1 = np.corrcoef(pred[1, [0, 2, 3], 0], target[1, [0, 2, 3]])[0, 1]
    assert reg["pearson_window"] == pytest.approx((w0 + w1) / 2)


def test_bad_per_base_labels_name_file_and_row(tmp_path: Path) -> None:
    data = write_task(tmp_path / "task", {"train": 8, "dev": 4, "test": 4}, length=20)
    df = pd.read_csv(data / "dev.tsv", sep="\t")
    df.loc[2, "label"] = ",".join(["0"] * 19)
    df.to_csv(data / "dev.tsv", sep="\t", index=False)
    with pytest.raises(DataError, match=r"dev.tsv row 3: 19 per-base labels for a sequence of 20 bases"):
        run_train(per_base_cfg(data, tmp_path / "run", "hyenadna", "full"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("family", ["nucleotide_transformer", "dnabert2", "hyenadna"])
def test_long_sequences_are_cut_to_the_bases_whose_tokens_fit(family: str) -> None:
    """A sequence over max_length tokens keeps its first bases (special tokens kept); the rest are not scored."""
    tok = load_backbone(ModelConfig(family=family, init="tiny")).tokenizer
    seq = "".join(np.random.default_rng(5).choice(list("ACGT"), 120))
    _, full_index, cut = encode_per_base(tok, [seq], 10_000, "t")
    assert cut == 0 and len(full_index[0]) == 120 and (full_index[0] >= 0).all()
    ids, index, cut = encode_per_base(tok, [seq], 8, "t")
    kept = len(index[0])
    assert cut == 1 and len(ids[0]) <= 8 and 0 < kept < 120
    assert ids[0] == tok(seq[:kept])["input_ids"]  # exactly the tokens of the kept prefix
    assert (index[0] >= 0).all() and index[0].max() < len(ids[0])
    if family == "nucleotide_transformer":  # [CLS] + 6-mers: 7 content tokens hold 42 bases
        assert kept == 42 and list(index[0][:7]) == [1] * 6 + [2]
