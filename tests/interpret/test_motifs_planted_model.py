"""Acceptance: a small model trained through our trainer on planted-motif data (real lambda background);
attribution -> TF-MoDISco -> TOMTOM recovers the planted motif's JASPAR id among the top matches and calls it
discriminative; the distractor planted in every class is not called discriminative."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("modiscolite")
pytest.importorskip("memelite")
pytest.importorskip("captum")

from genomefactory.config import validate_dict
from genomefactory.interpret.motifs import MotifDB
from genomefactory.interpret.motifs.config import MotifsConfig
from genomefactory.interpret.motifs.planted import plant, write_task
from genomefactory.interpret.motifs.run import run_motifs
from genomefactory.train.config import TrainConfig
from genomefactory.train.finetune import run_train

PLANTED, DISTRACTOR = "MA0139", "MA0114"  # CTCF in class 1 only; HNF4A in every sequence


@pytest.fixture(scope="module")
def planted_run(lambda_genome: str, jaspar_db: MotifDB, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny hf_auto CNN-adapter classifier (8 epochs, ~200 steps) on 800 planted 80-bp sequences."""
    root = tmp_path_factory.mktemp("planted")
    data = plant(
        lambda_genome,
        {0: [], 1: [jaspar_db.get(PLANTED)]},
        [jaspar_db.get(DISTRACTOR)],
        n_per_class=400,
        length=80,
        seed=0,
    )
    task = write_task(root / "task", data)
    cfg = validate_dict(
        TrainConfig,
        {
            "model": {"family": "hf_auto", "init": "tiny"},
            "data": {"path": str(task)},
            "method": {
                "name": "adapter",
                "adapter": {
                    "kind": "cnn",
                    "cnn_channels": 32,
                    "cnn_kernel_size": 9,
                    "dropout": 0.0,
                    "cache_dir": str(root / "cache"),
                },
            },
            "training": {
                "epochs": 8,
                "batch_size": 32,
                "learning_rate": 5e-3,
                "lr_scheduler": "constant",
                "warmup_ratio": 0.0,
                "eval_steps": 100,
                "logging_steps": 50,
                "seed": 0,
            },
            "output_dir": str(root / "run"),
        },
    )
    run_train(cfg)
    return root


@pytest.mark.slow
def test_trained_model_motifs_recover_planted_jaspar_id(planted_run: Path) -> None:
    cfg = validate_dict(
        MotifsConfig,
        {
            "run_dir": str(planted_run / "run"),
            "data_file": str(planted_run / "task" / "train.csv"),
            "method": "input_x_gradient",
            "max_sequences": 400,
            "modisco": {
                "window": 15,
                "flank": 5,
                "min_metacluster_size": 30,
                "min_cluster_size": 10,
                "n_leiden_runs": 4,
            },
            "output": str(planted_run / "motifs"),
        },
    )
    res = run_motifs(cfg)
    target = [p for p in res.patterns if p.stats.get("discriminative")]
    assert target, [(p.name, p.n_seqlets, p.stats) for p in res.patterns]
    assert any(m.id.startswith(PLANTED) for p in target for m in p.matches), [
        [(m.id, m.name) for m in p.matches] for p in target
    ]
    for p in res.patterns:  # the distractor may be found, but never as discriminative
        if p.matches and p.matches[0].id.startswith(DISTRACTOR):
            assert not p.stats["discriminative"]
    assert PLANTED in (planted_run / "motifs" / "report.md").read_text()


@pytest.mark.slow
def test_sae_unit_is_named_by_the_planted_jaspar_motif(planted_run: Path, tmp_path: Path) -> None:
    """SAE on the trained model's pooled CNN features; the jaspar readout names the unit by its JASPAR id."""
    import json

    import numpy as np
    import pyarrow.parquet as pq
    import torch

    from genomefactory.infer.store import rows_to_table
    from genomefactory.interpret.attrib import load_predictor
    from genomefactory.interpret.config import ReadoutSpec, SAEConfig, SAERegressionConfig
    from genomefactory.interpret.regress import run_sae_regression
    from genomefactory.interpret.train_sae import train_sae
    from genomefactory.records import read_frame

    pred = load_predictor(planted_run / "run")
    frame = read_frame(planted_run / "task" / "train.csv").head(600)[["id", "sequence"]]
    feats: list[np.ndarray] = []
    hook = pred.model.head.out.register_forward_pre_hook(  # the pooled features the classifier reads
        lambda _m, inp: feats.append(inp[0].detach().float().cpu().numpy())
    )
    try:
        rows = [e[0] for e in pred.encode_many(list(frame["sequence"]))]
        for b in range(0, len(rows), 64):
            ids, mask = pred.pad(rows[b : b + 64])
            with torch.no_grad():
                pred.logits(ids, mask)
    finally:
        hook.remove()
    x = np.concatenate(feats).astype(np.float32)
    emb = tmp_path / "emb.parquet"
    pq.write_table(rows_to_table(frame, list(x), x.shape[1], False, {}), emb)
    sae, _ = train_sae(torch.from_numpy(x), SAEConfig(d_hidden=64, k=4), steps=300, lr=5e-3)
    sae.save(tmp_path / "sae")
    cfg = SAERegressionConfig(
        embeddings=str(emb),
        sae_checkpoint=str(tmp_path / "sae"),
        readouts=[ReadoutSpec(kind="jaspar", jaspar_id=PLANTED)],
        figures=False,
        output=str(tmp_path / "out"),
    )
    res = run_sae_regression(cfg)
    report = json.loads(res.output.read_text())
    name = next(k for k in report["readouts"] if PLANTED in k)  # "CTCF (MA0139.2) presence"
    top = report["readouts"][name]["top_units"][0]
    assert top["significant"] and abs(top["pearson_r"]) > 0.5, top
    assert PLANTED in res.summary() and "CTCF" in res.summary()
