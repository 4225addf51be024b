"""``genomefactory-cli benchmark``: the sweep models × methods × tasks × seeds, resumable.

Sweep folder (``output_dir``): ``config.yaml`` (resolved), ``data/`` (prepared task folders when a suite needs
them: subsampled, dev carved out, built from intervals), ``cells/<suite>/<task>/<model>/<method>/seed<N>/`` with
``cell.json`` (the marker: status ok / failed / skipped, score, metrics, timing) and ``run/`` (the trainer's run
directory), the reports written by :mod:`genomefactory.benchmark.report`, and ``manifest.json`` (resolved config,
versions, commit, SHA-256 of every split file the cells trained and were scored on and of the published/efficiency
CSVs).

A cell whose ``cell.json`` says ``ok`` with the same config hash is not run again; a failed cell is run again
when ``retry_failed`` (the default); a failing cell is recorded and the sweep goes on. Progress lines on stdout
look like ``[3/16] gue/tf/0 nucleotide_transformer lora seed=14: ok score=12.34 (4.1 s)`` (the web UI parses them).

Under ``torchrun`` / ``accelerate launch`` every rank walks the same sweep and each cell's training runs data
parallel through the trainer; rank 0 alone prepares task data, decides which cells to reuse (its decision is
broadcast, so all ranks train the same cells), writes markers, reports and the manifest, and prints progress.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, deep_merge, dump_config, validate_dict
from ..dist import Ranks
from ..io import atomic_write_json, atomic_write_text, write_manifest
from ..train.config import TrainConfig
from .config import BenchmarkConfig, BenchmarkModel
from .report import CellRecord, aggregate, score_of, write_reports
from .suites import BenchTask, PreparedTask, get_suite

__all__ = ["BenchmarkResult", "run_benchmark"]

log = logging.getLogger("genomefactory.benchmark")


@dataclass
class BenchmarkResult:
    """What a sweep produced: every cell (this run's and reused ones) and the report files."""

    output_dir: Path
    cells: list[CellRecord]
    ran: int
    reused: int
    files: dict[str, Path] = field(default_factory=dict)
    table: str = ""

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.cells)

    def summary(self) -> str:
        head = (
            f"sweep {self.output_dir}: {len(self.cells)} cells, {self.count('ok')} ok, {self.count('failed')} "
            f"failed, {self.count('skipped')} skipped; {self.ran} run now, {self.reused} reused"
        )
        return "\n".join([head, self.table, *(f"{k}: {v}" for k, v in self.files.items())])


def _slug(text: str) -> str:
    return text.replace("/", "__").replace(" ", "_")


def _cell_dir(out: Path, task: BenchTask, model: str, method: str, seed: int) -> Path:
    return out / "cells" / task.suite / _slug(task.name) / _slug(model) / method / f"seed{seed}"


def _train_dict(cfg: BenchmarkConfig, model: BenchmarkModel, method: str, seed: int) -> dict[str, Any]:
    model_fields = model.model_dump(exclude={"label", "methods", "overrides"})
    base: dict[str, Any] = {
        "model": model_fields,
        "data": {"path": "<prepared task>", "max_length": cfg.max_length},
        "method": {**cfg.method.model_dump(), "name": method},
        "training": {**cfg.training.model_dump(), "seed": seed},
    }
    merged = deep_merge(base, model.overrides)
    merged["method"]["name"] = method  # the sweep's axes win over overrides
    merged["training"]["seed"] = seed
    return merged


def _check_models(cfg: BenchmarkConfig) -> None:
    """Fail before any training: duplicate labels, unknown families, invalid overrides."""
    from ..models.registry import get_family

    labels = [m.display_name() for m in cfg.models]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(
            f"models: duplicate label(s) {', '.join(dup)}; give each model entry a distinct label"
        )
    for i, m in enumerate(cfg.models):
        if m.family is not None:  # None: detected from model.path when the model is loaded
            get_family(m.family)
        for method in _methods(cfg, m):
            try:
                validate_dict(
                    TrainConfig,
                    _train_dict(cfg, m, method, cfg.seeds[0]),
                    f"models[{i}] ({m.display_name()})",
                )
            except ConfigError as exc:
                raise ConfigError(
                    f"{exc}\n  (keys come from the shared sections and models[{i}].overrides)"
                ) from None


def _methods(cfg: BenchmarkConfig, m: BenchmarkModel) -> list[str]:
    return [x for x in cfg.methods if m.methods is None or x in m.methods]


def _config_hash(train: dict[str, Any], prepared: PreparedTask) -> str:
    key = json.dumps(
        {"train": train, "rows": prepared.rows, "folder": str(prepared.folder)}, sort_keys=True, default=str
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _reusable(marker: Path, config_hash: str | None, retry_failed: bool) -> CellRecord | None:
    """The earlier record of this cell when it need not run again: same config and ok (or failed, not retried)."""
    old = _load_cell(marker) if marker.is_file() else None
    if old is None or old.config_hash != config_hash:
        return None
    return old if old.status == "ok" or (old.status == "failed" and not retry_failed) else None


def _load_cell(path: Path) -> CellRecord | None:
    try:
        return CellRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _efficiency(run_dir: Path, prepared: PreparedTask) -> tuple[float | None, float | None]:
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


def _run_cell(
    train: dict[str, Any],
    prepared: PreparedTask,
    record: CellRecord,
    cell_dir: Path,
    keep_models: bool,
    ranks: Ranks,
) -> CellRecord:
    import torch

    from ..train.finetune import run_train

    run_dir = cell_dir / "run"
    if run_dir.exists() and ranks.main:
        shutil.rmtree(run_dir)  # a previous failed attempt: this folder belongs to the sweep
    ranks.barrier()
    train = {
        **train,
        "data": {**train["data"], "path": str(prepared.folder)},
        "task": {"type": prepared.task.task_type, "num_labels": prepared.num_labels},
        "output_dir": str(run_dir),
        "overwrite": True,
    }
    tcfg = validate_dict(TrainConfig, train, f"cell {record.cell_id()}")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    res = run_train(tcfg)
    record.status = "ok"
    record.test_metrics, record.dev_metrics = res.test_metrics, res.dev_metrics
    record.score = score_of(res.test_metrics, record.metric)
    record.train_seconds = res.train_seconds
    record.trainable_params, record.total_params = res.trainable_params, res.total_params
    record.samples_per_s, record.throughput_kbp_s = _efficiency(run_dir, prepared)
    if res.train_tokens_per_s is not None:
        record.throughput_ktok_s = res.train_tokens_per_s / 1000.0
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


def _plan(cfg: BenchmarkConfig) -> list[tuple[Any, Any, list[BenchTask]]]:
    plan = []
    for s in cfg.suites:
        suite = get_suite(s.name)
        plan.append((s, suite, suite.select(s)))
    return plan


def run_benchmark(cfg: BenchmarkConfig) -> BenchmarkResult:
    """Run (or resume) the sweep and write the reports; returns every cell's record."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = Path(cfg.output_dir)
    ranks = Ranks()
    if ranks.main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", dump_config(cfg))
    _check_models(cfg)
    plan = _plan(cfg)
    per_task = sum(len(_methods(cfg, m)) for m in cfg.models) * len(cfg.seeds)
    total = per_task * sum(len(tasks) for _, _, tasks in plan)
    if ranks.main:
        print(
            f"benchmark: {total} cells ({sum(len(t) for _, _, t in plan)} tasks × {per_task} model/method/seed "
            f"runs) in {out}" + (f" ({ranks.world} ranks)" if ranks.world > 1 else ""),
            flush=True,
        )
    cells: list[CellRecord] = []
    inputs: list[Path] = [Path(p) for p in [*cfg.published_scores, cfg.efficiency_csv] if p]
    ran = reused = 0
    for scfg, suite, tasks in plan:
        for task in tasks:
            prepared, prep_error = ranks.share(
                _prepare(suite, task, scfg, out / "data") if ranks.main else (None, None)
            )
            if prepared is not None and prepared.folder is not None:  # the split files the cells trained on
                inputs += [prepared.folder / f"{s}.csv" for s in ("train", "dev", "test")]
            for model in cfg.models:
                for method in _methods(cfg, model):
                    for seed in cfg.seeds:
                        rec, did = _one_cell(
                            cfg,
                            out,
                            task,
                            model,
                            method,
                            seed,
                            prepared,
                            prep_error,
                            len(cells) + 1,
                            total,
                            ranks,
                        )
                        cells.append(rec)
                        ran += did
                        reused += not did and rec.status == "ok"
    cells = ranks.share(cells)  # every rank returns rank 0's records (the ones on disk)
    agg = aggregate(cells, cfg)
    files: dict[str, Path] = {}
    table = ""
    if ranks.main:
        files, table = write_reports(out, agg, cells, cfg)
        write_manifest(out, cfg.model_dump(mode="json"), inputs, None, "benchmark")
    ranks.barrier()
    return BenchmarkResult(out, cells, ran, reused, files, table)


def _prepare(suite: Any, task: BenchTask, scfg: Any, work: Path) -> tuple[PreparedTask | None, str | None]:
    try:
        prepared = suite.prepare(task, scfg, work)
    except Exception as exc:  # bad data is one task's problem, not the sweep's
        log.error("preparing %s/%s failed: %s", task.suite, task.name, exc)
        return None, f"data preparation failed: {type(exc).__name__}: {exc}"
    for m in prepared.missing:
        print(f"missing data: {m}", flush=True)
    for n in prepared.notes:
        log.info("%s/%s: %s", task.suite, task.name, n)
    return prepared, None


def _one_cell(
    cfg: BenchmarkConfig,
    out: Path,
    task: BenchTask,
    model: BenchmarkModel,
    method: str,
    seed: int,
    prepared: PreparedTask | None,
    prep_error: str | None,
    i: int,
    total: int,
    ranks: Ranks,
) -> tuple[CellRecord, bool]:
    label = model.display_name()
    rec = CellRecord(
        suite=task.suite,
        task=task.name,
        group=task.group,
        model=label,
        method=method,
        seed=seed,
        metric=task.metric,
        status="skipped",
    )
    cell_dir = _cell_dir(out, task, label, method, seed)
    marker = cell_dir / "cell.json"
    rec.run_dir = str(cell_dir / "run")
    if prepared is None or prepared.missing:
        rec.status = "failed" if prep_error else "skipped"
        rec.error = prep_error or "; ".join(prepared.missing if prepared else [])
        if ranks.main:
            atomic_write_json(marker, rec.to_dict())
        _progress(i, total, rec, 0.0)
        return rec, False
    train = _train_dict(cfg, model, method, seed)
    rec.config_hash = _config_hash(train, prepared)
    old = ranks.share(_reusable(marker, rec.config_hash, cfg.retry_failed) if ranks.main else None)
    if old is not None:
        _progress(i, total, old, 0.0, " (finished earlier, reused)")
        return old, False
    start = time.perf_counter()
    try:
        rec = _run_cell(train, prepared, rec, cell_dir, cfg.keep_models, ranks)
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
