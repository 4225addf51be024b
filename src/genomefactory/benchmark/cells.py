"""One cell of a sweep: reuse its earlier record or train it, measure it, and write its ``cell.json`` marker.

A cell whose ``cell.json`` says ``ok`` with the same config hash is not run again; a failed cell is run again
when ``retry_failed``; a failing cell is recorded (status ``failed`` with the error) and the sweep goes on, unless
``stop_on_error``. Timing: ``train_seconds`` and the training-loop throughput come from the trainer;
``cell_seconds`` is the wall clock of the whole cell (model loading, adapter feature extraction, training,
evaluation, prediction) and ``throughput_e2e_ktok_s`` the training tokens over it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import validate_dict
from ..dist import Ranks
from ..io import atomic_write_json
from ..train.config import TrainConfig
from .report import CellRecord, score_of
from .suites import BenchTask, PreparedTask

__all__ = ["CellPlan", "run_one_cell"]


@dataclass
class CellPlan:
    """Everything that identifies one cell and what it needs."""

    task: BenchTask
    model_label: str
    init: str
    method: str
    seed: int
    train: dict[str, Any]  # the TrainConfig dict before the prepared task is filled in
    prepared: PreparedTask | None
    prep_error: str | None
    max_rows_per_split: int | None


def _slug(text: str) -> str:
    return text.replace("/", "__").replace(" ", "_")


def cell_dir(out: Path, task: BenchTask, model: str, method: str, seed: int) -> Path:
    return out / "cells" / task.suite / _slug(task.name) / _slug(model) / method / f"seed{seed}"


def _config_hash(train: dict[str, Any], prepared: PreparedTask) -> str:
    key = json.dumps(
        {"train": train, "rows": prepared.rows, "folder": str(prepared.folder)}, sort_keys=True, default=str
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _load_cell(path: Path) -> CellRecord | None:
    try:
        return CellRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _reusable(marker: Path, config_hash: str | None, retry_failed: bool) -> CellRecord | None:
    """The earlier record of this cell when it need not run again: same config and ok (or failed, not retried)."""
    old = _load_cell(marker) if marker.is_file() else None
    if old is None or old.config_hash != config_hash:
        return None
    return old if old.status == "ok" or (old.status == "failed" and not retry_failed) else None


def _kbp(run_dir: Path, prepared: PreparedTask) -> tuple[float | None, float | None]:
    """(samples/s, kbp/s) of training from the trainer's log; kbp = mean train length × samples / 1000."""
    log_path = run_dir / "trainer_log.jsonl"
    if not log_path.is_file():
        return None, None
    for line in reversed(log_path.read_text().splitlines()):
        rec = json.loads(line)
        if "train_samples_per_second" in rec:
            sps = float(rec["train_samples_per_second"])
            return sps, sps * prepared.mean_train_bp / 1000.0
    return None, None


def _measure(record: CellRecord, res: Any, on_cached_features: bool, cell_seconds: float) -> None:
    """Timing of a finished cell; ``on_cached_features``: the method trains on frozen-backbone features."""
    record.train_seconds = res.train_seconds
    record.cell_seconds = cell_seconds
    if on_cached_features:
        record.feature_cache_hits = int(res.feature_cache_hits)
    if res.train_tokens_per_s is not None:
        record.throughput_ktok_s = res.train_tokens_per_s / 1000.0
        tokens = res.train_tokens_per_s * res.train_seconds  # the tokens the training loop processed
        record.throughput_e2e_ktok_s = tokens / max(cell_seconds, 1e-9) / 1000.0


def cell_tracking(plan: CellPlan, record: CellRecord) -> dict[str, Any]:
    """The cell's run name and tags for the tracking integrations (``training.report_to``)."""
    tags = {
        "suite": plan.task.suite,
        "task": plan.task.name,
        "model": plan.model_label,
        "method": plan.method,
        "seed": str(plan.seed),
    }
    return {"run_name": record.cell_id(), "run_tags": tags}


def _train_cell(
    plan: CellPlan, record: CellRecord, directory: Path, keep_models: bool, ranks: Ranks
) -> CellRecord:
    import torch

    from ..train.finetune import run_train

    prepared = plan.prepared
    assert prepared is not None and prepared.folder is not None
    run_dir = directory / "run"
    if run_dir.exists() and ranks.main:
        shutil.rmtree(run_dir)  # a previous failed attempt: this folder belongs to the sweep
    ranks.barrier()
    train = {
        **plan.train,
        "data": {**plan.train["data"], "path": str(prepared.folder)},
        "task": {"type": prepared.task.task_type, "num_labels": prepared.num_labels},
        "output_dir": str(run_dir),
        "overwrite": True,
        "training": {**plan.train["training"], **cell_tracking(plan, record)},
    }
    tcfg = validate_dict(TrainConfig, train, f"cell {record.cell_id()}")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    res = run_train(tcfg)
    cell_seconds = time.perf_counter() - start
    record.status = "ok"
    record.test_metrics, record.dev_metrics = res.test_metrics, res.dev_metrics
    record.score = score_of(res.test_metrics, record.metric)
    record.trainable_params, record.total_params = res.trainable_params, res.total_params
    record.samples_per_s, record.throughput_kbp_s = _kbp(run_dir, prepared)
    from ..train.methods import get_method

    _measure(record, res, get_method(tcfg.method.name).uses_feature_cache(tcfg.method), cell_seconds)
    if torch.cuda.is_available():
        record.peak_mem_gb = torch.cuda.max_memory_allocated() / 1e9
    ranks.barrier()  # every rank has finished with the run folder
    if not keep_models and ranks.main:
        for p in [run_dir / "model", *run_dir.glob("checkpoint-*")]:
            shutil.rmtree(p, ignore_errors=True)
    return record


def _progress(i: int, total: int, rec: CellRecord, seconds: float, note: str = "") -> None:
    if int(os.environ.get("RANK", "0")) != 0:
        return
    score = f" score={rec.score:.2f}" if rec.score is not None else ""
    why = f" ({rec.error.splitlines()[0][:160]})" if rec.error and rec.status != "ok" else ""
    print(f"[{i}/{total}] {rec.cell_id()}: {rec.status}{note}{score}{why} ({seconds:.1f} s)", flush=True)


def run_one_cell(
    plan: CellPlan, out: Path, cfg: Any, i: int, total: int, ranks: Ranks
) -> tuple[CellRecord, bool]:
    """The cell's record and whether it was trained now (False: reused or not runnable)."""
    task = plan.task
    rec = CellRecord(
        suite=task.suite,
        task=task.name,
        group=task.group,
        model=plan.model_label,
        method=plan.method,
        seed=plan.seed,
        metric=task.metric,
        status="skipped",
        init=plan.init,
        max_rows_per_split=plan.max_rows_per_split,
    )
    directory = cell_dir(out, task, plan.model_label, plan.method, plan.seed)
    marker = directory / "cell.json"
    rec.run_dir = str(directory / "run")
    prepared = plan.prepared
    if prepared is None or prepared.missing:
        rec.status = "failed" if plan.prep_error else "skipped"
        rec.error = plan.prep_error or "; ".join(prepared.missing if prepared else [])
        if ranks.main:
            atomic_write_json(marker, rec.to_dict())
        _progress(i, total, rec, 0.0)
        return rec, False
    rec.config_hash = _config_hash(plan.train, prepared)
    old = ranks.share(_reusable(marker, rec.config_hash, cfg.retry_failed) if ranks.main else None)
    if old is not None:
        old.init, old.max_rows_per_split = (
            plan.init,
            plan.max_rows_per_split,
        )  # facts of the plan, not the run
        _progress(i, total, old, 0.0, " (finished earlier, reused)")
        return old, False
    start = time.perf_counter()
    try:
        rec = _train_cell(plan, rec, directory, cfg.keep_models, ranks)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        rec.status = "failed"
        rec.error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-4))
        if cfg.stop_on_error:
            if ranks.main:
                atomic_write_json(marker, rec.to_dict())
            raise
    if ranks.main:
        atomic_write_json(marker, rec.to_dict())
    _progress(i, total, rec, time.perf_counter() - start)
    sys.stdout.flush()
    return rec, True
