"""Experiment tracking (``training.report_to``): a TensorBoard event file in the run directory, the one-line
error naming the extra when an integration package is missing, offline-safe defaults that the user's environment
overrides, and the benchmark sweep's per-cell tags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_trainer import cfg_for, subsample_task

from genomefactory.benchmark.config import BenchmarkConfig
from genomefactory.benchmark.run import run_benchmark
from genomefactory.config import validate_dict
from genomefactory.train import tracking
from genomefactory.train.finetune import run_train


@pytest.fixture
def tiny_task(shared_data: Path, tmp_path: Path) -> Path:
    return subsample_task(
        shared_data / "gue/prom/prom_core_tata", tmp_path / "tata", {"train": 32, "dev": 16, "test": 16}
    )


def test_tensorboard_event_file_written(tiny_task: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    cfg = cfg_for(tiny_task, out, "full", training__report_to=["tensorboard"], training__max_steps=4)
    cfg.training.run_tags = {"model": "nt-tiny"}
    run_train(cfg)
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    # the Trainer closes its writer at the end of training and opens another for the final evaluation
    assert events and all(e.stat().st_size > 0 for e in events)
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [2, 4]  # logging_steps=2, max_steps=4
    assert "TENSORBOARD_LOGGING_DIR" not in os.environ  # restored after the run


def test_no_tracking_by_default(tiny_task: Path, tmp_path: Path) -> None:
    cfg = cfg_for(tiny_task, tmp_path / "run", "full")
    assert cfg.training.report_to == []
    assert tracking.trainer_report_to(cfg.training.report_to) == "none"


def test_missing_package_is_one_error_line(
    tiny_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from genomefactory.cli import main

    real = tracking._installed
    monkeypatch.setattr(tracking, "_installed", lambda pkg: pkg != "mlflow" and real(pkg))
    out = tmp_path / "run"
    args = [
        "train",
        f"data.path={tiny_task}",
        f"output_dir={out}",
        "model.family=nucleotide_transformer",
        "model.init=tiny",
        "training.report_to=[tensorboard,mlflow]",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert "mlflow" in err[0] and 'pip install "genomefactory[mlflow]"' in err[0]
    assert not out.exists()


def test_offline_defaults_and_user_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user.example:5000")
    tags = {"model": "m", "seed": "1"}
    with tracking.tracking_env(["mlflow", "wandb", "tensorboard"], tmp_path, "cell-1", tags) as added:
        assert os.environ["MLFLOW_TRACKING_URI"] == "http://user.example:5000"  # the user's value wins
        assert "MLFLOW_TRACKING_URI" not in added
        assert os.environ["WANDB_MODE"] == "offline"
        assert os.environ["WANDB_DIR"] == str(tmp_path.resolve())
        assert os.environ["WANDB_TAGS"] == "model=m,seed=1"
        assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path.resolve() / "tensorboard")
        assert os.environ["MLFLOW_TAGS"] == '{"model": "m", "seed": "1"}'
    assert "WANDB_MODE" not in os.environ and "TENSORBOARD_LOGGING_DIR" not in os.environ
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://user.example:5000"
    defaults = tracking.tracking_defaults(["mlflow"], tmp_path, None, {})
    assert defaults["MLFLOW_TRACKING_URI"] == (tmp_path.resolve() / "mlruns").as_uri()


def test_sweep_tags_each_cell(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import genomefactory.train.finetune as ft

    seen: list[Any] = []

    def capture(cfg: Any) -> Any:
        seen.append(cfg.training)
        raise RuntimeError("captured; not trained")

    monkeypatch.setattr(ft, "run_train", capture)
    cfg = validate_dict(
        BenchmarkConfig,
        {
            "suites": [
                {
                    "name": "gue",
                    "path": str(shared_data / "gue"),
                    "tasks": ["prom/prom_core_tata"],
                    "max_rows_per_split": 16,
                }
            ],
            "models": [{"family": "nucleotide_transformer", "init": "tiny"}],
            "methods": ["full", "lora"],
            "seeds": [3],
            "training": {"epochs": 1, "report_to": ["tensorboard"]},
            "output_dir": str(tmp_path / "sweep"),
        },
    )
    run_benchmark(cfg)
    assert len(seen) == 2
    for t, method in zip(seen, ["full", "lora"], strict=True):
        assert t.report_to == ["tensorboard"]
        assert t.run_tags["method"] == method and t.run_tags["seed"] == "3"
        assert t.run_tags["task"] == "prom/prom_core_tata" and t.run_tags["suite"] == "gue"
        assert "nucleotide_transformer" in t.run_tags["model"] or "nt" in t.run_tags["model"].lower()
        assert method in t.run_name and "seed=3" in t.run_name
