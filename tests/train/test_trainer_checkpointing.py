"""``training.gradient_checkpointing`` through ``run_train`` on real GUE rows (tiny NT, CPU)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from test_trainer import cfg_for, subsample_task

from genomefactory.train.finetune import run_train


@pytest.fixture
def tata_rows(shared_data: Path, tmp_path: Path) -> Path:
    return subsample_task(
        shared_data / "gue/prom/prom_core_tata", tmp_path / "tata", {"train": 96, "dev": 32, "test": 32}
    )


def _losses(run: Path) -> list[float]:
    rows = [json.loads(x) for x in (run / "trainer_log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_gradient_checkpointing_end_to_end(
    tata_rows: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genomefactory")
    ckpt = run_train(
        cfg_for(
            tata_rows, tmp_path / "ckpt", "lora", training__gradient_checkpointing=True, training__epochs=1
        )
    )
    assert "nucleotide_transformer: activation checkpointing on 2 blocks" in caplog.text
    plain = run_train(cfg_for(tata_rows, tmp_path / "plain", "lora", training__epochs=1))
    # recomputation replays the same dropout draws: the same training curve and the same metrics
    assert len(_losses(tmp_path / "ckpt")) >= 2
    assert _losses(tmp_path / "ckpt") == pytest.approx(_losses(tmp_path / "plain"), rel=1e-5)
    assert ckpt.test_metrics == pytest.approx(plain.test_metrics, rel=1e-5, abs=1e-6)
    assert (tmp_path / "ckpt/model").is_dir() and (tmp_path / "ckpt/predictions_test.csv").is_file()


def test_adapter_ignores_gradient_checkpointing(
    tata_rows: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genomefactory")
    run_train(
        cfg_for(
            tata_rows, tmp_path / "run", "adapter", training__gradient_checkpointing=True, training__epochs=1
        )
    )
    assert "gradient_checkpointing ignored for method adapter" in caplog.text
    assert "activation checkpointing on" not in caplog.text
