"""The `make demo` pipeline end to end (synthetic data, LoRA, predict, embed a run directory, SAE, regression)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from genomefactory.demo import main, synthetic_task


def test_synthetic_task_splits_disjoint(tmp_path: Path) -> None:
    folder = synthetic_task(tmp_path / "d", n_per_class=100)
    splits = {s: pd.read_csv(folder / f"{s}.csv") for s in ("train", "dev", "test")}
    seen: set[str] = set()
    for df in splits.values():
        assert set(df["label"]) == {0, 1}
        assert not seen & set(df["sequence"])
        seen |= set(df["sequence"])
    lengths = splits["train"]["sequence"].str.len()
    assert lengths.min() >= 100 and lengths.max() <= 200 and lengths.nunique() > 10


def test_demo_end_to_end(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--out", str(tmp_path / "demo"), "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "demo/run_lora/metrics.json").read_text())
    assert metrics["test"]["mcc"] > 0.3, "the tiny HyenaDNA should learn the two synthetic species"
    preds = pd.read_csv(tmp_path / "demo/predictions.csv")
    test = pd.read_csv(tmp_path / "demo/data/test.csv")
    assert len(preds) == len(test) and (preds["sequence"] == test["sequence"]).all()
    report = json.loads((tmp_path / "demo/interpret/interpretation/interpretation.json").read_text())
    assert {"length", "gc", "label"} <= set(report["readouts"])
    assert report["readouts"]["length"]["n_significant"] > 0
    assert "metrics:" in out and "predictions:" in out and "model:" in out


def test_every_output_has_a_manifest(tmp_path: Path) -> None:
    """Training, prediction, embeddings, SAE and regression each record config, versions, inputs and seed."""
    main(["--out", str(tmp_path / "demo"), "--epochs", "1"])
    d = tmp_path / "demo"
    manifests = [
        d / "run_lora/manifest.json",
        d / "predictions.csv.manifest.json",
        d / "interpret/embeddings.parquet.manifest.json",
        d / "interpret/sae/manifest.json",
        d / "interpret/interpretation/manifest.json",
    ]
    for m in manifests:
        data = json.loads(m.read_text())
        assert {"config", "versions", "inputs_sha256", "seed", "git_commit", "command"} <= set(data), m
    pred = json.loads(manifests[1].read_text())
    assert pred["command"] == "inference:predict" and len(pred["inputs_sha256"]) == 1
