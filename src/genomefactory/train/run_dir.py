"""The run directory of ``run_train``: checked before anything runs, created only once data and model are valid,
written last.

``check_run`` resolves what the config leaves open and can be checked without data (the best-checkpoint metric,
precision, whether ``output_dir`` may be used and which checkpoint a resume continues) and touches nothing;
``open_run_dir`` creates the folder after the data and the model were validated, so a bad input never leaves an
empty run folder; ``write_run`` writes ``predictions_test.csv``, ``metrics.json``, ``model/`` and
``manifest.json``. Under torchrun only global rank 0 checks, cleans and writes the directory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import ConfigError
from ..io import atomic_write_json, atomic_write_text, write_manifest
from .config import TrainConfig
from .metrics import resolve_best_metric
from .model_io import save_run_model
from .predictions import write_predictions
from .results import FitResult, TrainResult
from .stages import BuiltModel, PreparedData, TokenizedData
from .task_types import is_regression

__all__ = ["RunPlan", "check_run", "open_run_dir", "resolved_config", "write_run"]

log = logging.getLogger("genomefactory.train")


@dataclass
class RunPlan:
    """Where the run writes, which checkpoint it resumes from (None = fresh start), the best-model metric."""

    output_dir: Path
    resume: str | None
    best_metric: str


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out)) if out.is_dir() else None


def check_run(cfg: TrainConfig) -> RunPlan:
    """Config checks that need no data; nothing is created."""
    best = resolve_best_metric(cfg.task.type, cfg.training.metric_for_best)
    if cfg.training.precision == "fp16":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("training.precision=fp16 needs a GPU; use fp32 (or bf16) on CPU")
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir {out} is a file; choose a folder")
    busy = out.is_dir() and any(out.iterdir())
    # under torchrun rank 0 may already be writing into it
    if _rank() == 0 and busy and not (cfg.training.resume or cfg.overwrite):
        raise ConfigError(
            f"output_dir {out} is not empty; set training.resume=true to continue it, overwrite=true to reuse it, "
            "or choose another output_dir"
        )
    resume = _last_checkpoint(out) if cfg.training.resume else None
    if cfg.training.resume and resume is None and _rank() == 0:
        log.warning("training.resume=true but %s has no checkpoint: starting from scratch", out)
    return RunPlan(out, resume, best)


def open_run_dir(plan: RunPlan) -> None:
    """Create the run directory. A fresh start removes the curve (``trainer_log.jsonl``) and ``checkpoint-*``
    folders an earlier run left (``overwrite: true``), so the new curve is not appended to the old one and
    ``resume`` later cannot pick up an old run's checkpoint. A resumed run drops the log lines written after its
    checkpoint: they are logged again."""
    out = plan.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if _rank() != 0:
        return
    curve = out / "trainer_log.jsonl"
    if plan.resume is not None:
        _trim_log(curve, int(Path(plan.resume).name.rsplit("-", 1)[1]))
        return
    curve.unlink(missing_ok=True)
    for old in out.glob("checkpoint-*"):
        if old.is_dir() and old.name.rsplit("-", 1)[1].isdigit():
            log.info("overwrite: removing %s of an earlier run", old)
            shutil.rmtree(old)


def _trim_log(path: Path, step: int) -> None:
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # the line the interruption cut short
            log.warning("%s: dropping an incomplete line of the interrupted run", path)
            continue
        if entry.get("step", 0) <= step:
            keep.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in keep))


def resolved_config(
    cfg: TrainConfig, lr: float, best: str, pooling: str, num_labels: int, max_len: int, family: Any
) -> dict[str, Any]:
    """The config with every default that was resolved at run time filled in (what the run really used)."""
    from ..models.loading import resolve_variant

    data = cfg.model_dump(mode="json")
    data["training"]["learning_rate"] = lr
    data["training"]["metric_for_best"] = best
    data["method"]["pooling"] = pooling
    data["task"]["num_labels"] = num_labels if not is_regression(cfg.task.type) else cfg.task.num_labels
    data["data"]["max_length"] = max_len
    data["model"]["family"] = family.name  # detected from model.path when the config left it out
    if cfg.model.path is None and cfg.model.init != "tiny":  # a tiny model has no published variant
        data["model"]["variant"] = resolve_variant(family, cfg.model.variant)
    return data


def _write_metrics(out: Path, plan: RunPlan, fit: FitResult, truncated: int) -> None:
    metrics = {
        "dev": fit.dev_metrics,
        "test": fit.test_metrics,
        "best_checkpoint": fit.best_checkpoint,
        "best_metric": plan.best_metric,
        "train_seconds": fit.train_seconds,
        "global_step": fit.global_step,
        "truncated_rows": truncated,
        "train_samples_per_s": fit.train_samples_per_s,
        "train_tokens_per_s": fit.train_tokens_per_s,
    }
    atomic_write_json(out / "metrics.json", metrics)


def _write_per_base_predictions(path: Path, test: Any, fit: FitResult, task_type: str) -> None:
    """``predictions_test.csv`` of a per-base task: row, the per-base labels, then the per-base predictions."""
    from .per_base_output import write_track_table

    labels = [",".join("." if (x < 0 or x != x) else f"{x:g}" for x in t.tolist()) for t in test.labels]
    base = pd.DataFrame({"row": range(len(test.labels)), "label": labels})
    if test.coords is not None:
        base = pd.concat([base, test.coords.reset_index(drop=True)], axis=1)
    assert fit.test_base_mask is not None
    lengths = [len(s) for s in test.sequences]
    write_track_table(path, base, fit.test_logits, fit.test_base_mask.astype(np.int64), lengths, task_type)


def write_run(
    cfg: TrainConfig,
    plan: RunPlan,
    data: PreparedData,
    built: BuiltModel,
    tokens: TokenizedData,
    fit: FitResult,
) -> TrainResult:
    """Write the run directory (main process only) and return what the run produced."""
    out = plan.output_dir
    result = TrainResult(
        out,
        fit.dev_metrics,
        fit.test_metrics,
        built.trainable_params,
        built.total_params,
        fit.train_seconds,
        tokens.truncated,
        fit.feature_cache_hits,
        {},
        fit.train_samples_per_s,
        fit.train_tokens_per_s,
        fit.local_parameters,
    )
    if not fit.is_main_process:
        return result
    test = data.splits["test"]
    if fit.test_base_mask is not None:
        _write_per_base_predictions(out / "predictions_test.csv", test, fit, data.task_type)
    else:
        base = pd.DataFrame({"row": range(len(test.labels)), "label": test.labels})
        write_predictions(out / "predictions_test.csv", base, fit.test_logits, data.task_type)
    _write_metrics(out, plan, fit, tokens.truncated)
    result.files = {
        "metrics": out / "metrics.json",
        "predictions": out / "predictions_test.csv",
        "log": out / "trainer_log.jsonl",
    }
    result.files["model"] = save_run_model(
        built.model,
        built.backbone,
        cfg.method,
        data.task_type,
        data.num_labels,
        built.max_len,
        out / "model",
        cfg.model,
    )
    resolved = resolved_config(
        cfg,
        lr=built.learning_rate,
        best=plan.best_metric,
        pooling=built.model.pooling,
        num_labels=data.num_labels,
        max_len=built.max_len,
        family=built.backbone.family,
    )
    write_manifest(out, resolved, [sp.path for sp in data.splits.values()], cfg.training.seed, "train")
    result.files["manifest"] = out / "manifest.json"
    return result
