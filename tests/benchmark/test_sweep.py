"""Acceptance: a real sweep (2 tiny families × 2 methods × 2 GUE tasks × 2 seeds) with one failing cell,
correct aggregates, scores that match scikit-learn on the saved predictions, and a resume that recomputes
only the failed cell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef

from genomefactory.benchmark.config import BenchmarkConfig
from genomefactory.benchmark.run import run_benchmark
from genomefactory.config import validate_dict

FAIL = ("tf/0", "genomeocean", "adapter", 28)


def _config(shared_data: Path, tmp_path: Path) -> BenchmarkConfig:
    return validate_dict(
        BenchmarkConfig,
        {
            "suites": [
                {
                    "name": "gue",
                    "path": str(shared_data / "gue"),
                    "tasks": ["tf/0", "prom/prom_core_tata"],
                    "max_rows_per_split": 32,
                }
            ],
            "models": [
                {"family": "nucleotide_transformer", "init": "tiny"},
                {"family": "genomeocean", "init": "tiny"},
            ],
            "methods": ["lora", "adapter"],
            "seeds": [14, 28],
            "method": {"adapter": {"cache_dir": str(tmp_path / "cache")}},
            "training": {"epochs": 1, "batch_size": 16, "eval_batch_size": 32, "logging_steps": 1},
            "output_dir": str(tmp_path / "sweep"),
        },
    )


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import genomefactory.train.finetune as ft

    real = ft.run_train
    state: dict[str, Any] = {"calls": [], "fail": True}

    def wrapper(cfg: Any) -> Any:
        key = (
            Path(cfg.data.path).parent.name + "/" + Path(cfg.data.path).name,
            cfg.model.family,
            cfg.method.name,
            cfg.training.seed,
        )
        state["calls"].append(key)
        if state["fail"] and key == FAIL:
            raise RuntimeError("injected failure for the test")
        return real(cfg)

    monkeypatch.setattr(ft, "run_train", wrapper)
    return state


def _cells(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((out / "cells").rglob("cell.json"))]


def test_sweep_fail_aggregate_resume(shared_data: Path, tmp_path: Path, counted: dict[str, Any]) -> None:
    cfg = _config(shared_data, tmp_path)
    res = run_benchmark(cfg)
    out = Path(cfg.output_dir)
    assert len(res.cells) == 16 and len(counted["calls"]) == 16
    assert res.count("ok") == 15 and res.count("failed") == 1
    failed = next(c for c in res.cells if c.status == "failed")
    assert (failed.task, failed.model, failed.method, failed.seed) == FAIL
    assert "injected failure" in (failed.error or "")

    cells = _cells(out)
    assert len(cells) == 16
    # the headline score is MCC×100 of the saved test predictions (scikit-learn's definition)
    for c in cells:
        if c["status"] != "ok":
            continue
        pred = pd.read_csv(Path(c["run_dir"]) / "predictions_test.csv")
        assert len(pred) == 32
        assert c["score"] == pytest.approx(
            100 * matthews_corrcoef(pred["label"], pred["prediction"]), abs=1e-6
        )
        assert c["test_metrics"]["f1"] == pytest.approx(
            f1_score(pred["label"], pred["prediction"], average="macro"), abs=1e-9
        )
        assert not (Path(c["run_dir"]) / "model").exists()  # keep_models: false
        assert c["throughput_ktok_s"] > 0 and c["samples_per_s"] > 0

    agg = json.loads((out / "aggregate.json").read_text())
    for row in agg["tasks"]:
        scores = [
            c["score"]
            for c in cells
            if c["status"] == "ok"
            and (c["task"], c["model"], c["method"]) == (row["task"], row["model"], row["method"])
        ]
        assert row["n"] == len(scores)
        assert row["mean"] == pytest.approx(np.mean(scores))
        if len(scores) > 1:
            assert row["std"] == pytest.approx(np.std(scores, ddof=1))
        else:
            assert row["std"] is None and row["not_ok"] == {"28": "failed"}
    for row in agg["suites"]:
        per_seed = []
        for seed in (14, 28):
            xs = [
                c["score"]
                for c in cells
                if c["status"] == "ok"
                and c["seed"] == seed
                and (c["model"], c["method"]) == (row["model"], row["method"])
            ]
            per_seed.append(np.mean(xs))
        assert row["mean"] == pytest.approx(np.mean(per_seed))
        assert row["std"] == pytest.approx(np.std(per_seed, ddof=1))
        assert row["complete"] == ((row["model"], row["method"]) != ("genomeocean", "adapter"))
    report = (out / "report.md").read_text()
    assert "†" in report and "injected failure" in report
    assert "- gue: our rows average over 2 task(s) with results, of 2 in this sweep" in report
    tasks_csv = pd.read_csv(out / "aggregate_tasks.csv")
    assert len(tasks_csv) == 8
    assert (out / "tradeoff.png").stat().st_size > 1000
    from genomefactory.io import sha256_file

    hashed = json.loads((out / "manifest.json").read_text())["inputs_sha256"]
    assert len(hashed) == 6 and {Path(p).name for p in hashed} == {"train.csv", "dev.csv", "test.csv"}
    assert all(sha256_file(Path(p)) == h for p, h in hashed.items())

    # resume: only the failed cell runs again; finished cells are not recomputed
    before = {p: p.read_text() for p in (out / "cells").rglob("cell.json")}
    counted["calls"].clear()
    counted["fail"] = False
    res2 = run_benchmark(cfg)
    assert counted["calls"] == [FAIL]
    assert res2.ran == 1 and res2.reused == 15 and res2.count("ok") == 16
    changed = [p for p in before if p.read_text() != before[p]]
    assert len(changed) == 1 and "genomeocean/adapter/seed28" in str(changed[0])
    table = (out / "report.md").read_text().split("† incomplete")[0]
    assert "†" not in table and "genomeocean" in table
