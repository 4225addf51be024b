"""Aggregation and reports of a sweep: JSON, CSV, Markdown and the score-vs-efficiency plot.

Scores: the suite's headline metric on the test split; mcc, f1 (macro), accuracy, precision, recall, pearson,
spearman and r2 are reported ×100, mse/mae as is. Per model × method × task: mean and sample standard deviation
(ddof=1; none for a single seed) over the seeds that finished. Per model × method × suite (the paper's Table 4):
for each seed the mean over the suite's tasks finished with that seed, then mean ± std over seeds; a row is
*incomplete* (marked †) when some of its cells failed or were skipped.

Every row carries what makes it comparable or not: the model's ``init`` (pretrained, random, tiny), the rows per
split (``max_rows_per_split`` when the splits were subsampled) and how many of the suite's tasks it averages over.
Throughput: ``throughput_ktok_s`` is the trainer's training loop (for adapter tuning on cached features, the head
alone); ``throughput_e2e_ktok_s`` divides the same training tokens by the cell's wall-clock time (model loading,
feature extraction, training and evaluation), averaged over cells that computed their own features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_path, atomic_write_json, atomic_write_text
from .published import read_published, resolve_reference

__all__ = ["CellRecord", "aggregate", "read_published", "score_of", "write_reports"]

PERCENT_METRICS = {"mcc", "f1", "accuracy", "precision", "recall", "pearson", "spearman", "r2"}


@dataclass
class CellRecord:
    """One cell of the sweep; its JSON form is ``cell.json``, the marker that makes a rerun skip it."""

    suite: str
    task: str
    group: str
    model: str
    method: str
    seed: int
    metric: str
    status: str  # ok | failed | skipped
    score: float | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    dev_metrics: dict[str, float] = field(default_factory=dict)
    train_seconds: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    samples_per_s: float | None = None
    throughput_kbp_s: float | None = None
    throughput_ktok_s: float | None = (
        None  # real (non-padding) tokens, the paper's Table 2 unit; training loop
    )
    peak_mem_gb: float | None = None
    config_hash: str | None = None
    error: str | None = None
    run_dir: str | None = None
    init: str = "pretrained"  # the model's init: pretrained | random | tiny
    max_rows_per_split: int | None = None  # the splits were subsampled to this many rows (None: full splits)
    cell_seconds: float | None = None  # wall clock of the whole cell (load, features, train, evaluate)
    # splits whose frozen-backbone features came from the cache (None: the method does not train on features)
    feature_cache_hits: int | None = None
    throughput_e2e_ktok_s: float | None = None  # training tokens / cell_seconds

    def cell_id(self) -> str:
        return f"{self.suite}/{self.task} {self.model} {self.method} seed={self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_of(metrics: dict[str, float], metric: str) -> float:
    """The headline score of a metrics dict: ×100 for correlation/F1-like metrics."""
    if metric not in metrics:
        raise KeyError(f"metric {metric!r} not among the run's test metrics ({', '.join(metrics)})")
    value = float(metrics[metric])
    return value * 100.0 if metric in PERCENT_METRICS else value


def mean_std(xs: list[float]) -> tuple[float | None, float | None]:
    if not xs:
        return None, None
    arr = np.asarray(xs, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if arr.size > 1 else None)


def _order(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _task_rows(cells: list[CellRecord]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    for key in _order([f"{c.suite}\t{c.task}\t{c.model}\t{c.method}" for c in cells]):
        suite, task, model, method = key.split("\t")
        mine = [c for c in cells if (c.suite, c.task, c.model, c.method) == (suite, task, model, method)]
        ok = [c for c in mine if c.status == "ok" and c.score is not None]
        mean, std = mean_std([c.score for c in ok if c.score is not None])
        tasks.append(
            {
                "suite": suite,
                "task": task,
                "group": mine[0].group,
                "metric": mine[0].metric,
                "model": model,
                "init": mine[0].init,
                "method": method,
                "max_rows_per_split": mine[0].max_rows_per_split,
                "n": len(ok),
                "mean": mean,
                "std": std,
                "seeds": [c.seed for c in ok],
                "scores": [c.score for c in ok],
                "not_ok": {str(c.seed): c.status for c in mine if c.status != "ok"},
            }
        )
    return tasks


def _suite_rows(cells: list[CellRecord]) -> list[dict[str, Any]]:
    suites: list[dict[str, Any]] = []
    for key in _order([f"{c.suite}\t{c.model}\t{c.method}" for c in cells]):
        suite, model, method = key.split("\t")
        mine = [c for c in cells if (c.suite, c.model, c.method) == (suite, model, method)]
        per_seed: dict[str, float] = {}
        for seed in _order([str(c.seed) for c in mine]):
            xs = [c.score for c in mine if str(c.seed) == seed and c.status == "ok" and c.score is not None]
            if xs:
                per_seed[seed] = float(np.mean(xs))
        mean, std = mean_std(list(per_seed.values()))
        suites.append(
            {
                "suite": suite,
                "model": model,
                "init": mine[0].init,
                "method": method,
                "max_rows_per_split": mine[0].max_rows_per_split,
                "mean": mean,
                "std": std,
                "n_seeds": len(per_seed),
                "per_seed": per_seed,
                "tasks_scored": len({c.task for c in mine if c.status == "ok"}),
                "cells_ok": sum(c.status == "ok" for c in mine),
                "cells": len(mine),
                "complete": all(c.status == "ok" for c in mine),
            }
        )
    return suites


def _suite_info(cells: list[CellRecord], suite_sizes: dict[str, int] | None) -> dict[str, dict[str, Any]]:
    info: dict[str, dict[str, Any]] = {}
    for suite in _order([c.suite for c in cells]):
        mine = [c for c in cells if c.suite == suite]
        info[suite] = {
            "tasks_in_sweep": len({c.task for c in mine}),
            "tasks_in_suite": (suite_sizes or {}).get(suite),
            "max_rows_per_split": mine[0].max_rows_per_split,
        }
    return info


def aggregate(cells: list[CellRecord], cfg: Any, suite_sizes: dict[str, int] | None = None) -> dict[str, Any]:
    """Per-task and per-suite rows, published scores and efficiency, as plain JSON-able data.

    ``suite_sizes``: number of tasks in each whole suite (so a row can say "2 of 28 tasks")."""
    published = [
        r
        for p in getattr(cfg, "published_scores", [])
        for r in read_published(resolve_reference(p, "published_scores"))
    ]
    return {
        "tasks": _task_rows(cells),
        "suites": _suite_rows(cells),
        "suite_info": _suite_info(cells, suite_sizes),
        "published": published,
        "efficiency": _efficiency(cells),
    }


def _efficiency(cells: list[CellRecord]) -> list[dict[str, Any]]:
    rows = []
    for key in _order([f"{c.model}\t{c.method}" for c in cells]):
        model, method = key.split("\t")
        mine = [c for c in cells if (c.model, c.method) == (model, method)]
        ok = [c for c in mine if c.status == "ok"]
        tp = [c.throughput_kbp_s for c in ok if c.throughput_kbp_s is not None]
        tk = [c.throughput_ktok_s for c in ok if c.throughput_ktok_s is not None]
        # cells whose adapter features came from an earlier cell's cache did not pay for extracting them
        e2e = [
            c.throughput_e2e_ktok_s
            for c in ok
            if c.throughput_e2e_ktok_s is not None and not c.feature_cache_hits
        ]
        mem = [c.peak_mem_gb for c in ok if c.peak_mem_gb is not None]
        params = [c.trainable_params for c in ok if c.trainable_params is not None]
        rows.append(
            {
                "model": model,
                "init": mine[0].init,
                "method": method,
                "throughput_kbp_s": float(np.mean(tp)) if tp else None,
                "throughput_ktok_s": float(np.mean(tk)) if tk else None,
                "throughput_e2e_ktok_s": float(np.mean(e2e)) if e2e else None,
                "e2e_cells": len(e2e),
                "features_cached": bool(ok) and not e2e and any(c.feature_cache_hits for c in ok),
                "head_only": any(c.feature_cache_hits is not None for c in ok),  # trained on cached features
                "peak_mem_gb": float(max(mem)) if mem else None,
                "trainable_params": int(params[0]) if params else None,
            }
        )
    return rows


def write_reports(
    out: Path, agg: dict[str, Any], cells: list[CellRecord], cfg: Any
) -> tuple[dict[str, Path], str]:
    """aggregate.json, aggregate_tasks.csv, aggregate_suites.csv, cells.csv, report.md and tradeoff.png."""
    from .plot import plot_tradeoff
    from .tables import markdown_report, suite_table

    files = {
        "aggregate": out / "aggregate.json",
        "tasks_csv": out / "aggregate_tasks.csv",
        "suites_csv": out / "aggregate_suites.csv",
        "cells_csv": out / "cells.csv",
        "report": out / "report.md",
    }
    atomic_write_json(files["aggregate"], agg)
    for name, rows in (("tasks_csv", agg["tasks"]), ("suites_csv", agg["suites"])):
        with atomic_path(files[name]) as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    with atomic_path(files["cells_csv"]) as tmp:
        pd.DataFrame(
            [{k: v for k, v in c.to_dict().items() if not isinstance(v, dict)} for c in cells]
        ).to_csv(tmp, index=False)
    efficiency = getattr(cfg, "efficiency_csv", None)
    eff_path = resolve_reference(efficiency, "efficiency_csv") if efficiency else None
    plot = plot_tradeoff(agg, eff_path, out / "tradeoff.png")
    if plot is not None:
        files["plot"] = plot
    atomic_write_text(files["report"], markdown_report(agg, cells, plot))
    return files, suite_table(agg)
