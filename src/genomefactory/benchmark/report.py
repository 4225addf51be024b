"""Aggregation and reports of a sweep: JSON, CSV, Markdown and the score-vs-efficiency plot.

Scores: the suite's headline metric on the test split; mcc, f1 (macro), accuracy, precision, recall, pearson,
spearman and r2 are reported ×100, mse/mae as is. Per model × method × task: mean and sample standard deviation
(ddof=1; none for a single seed) over the seeds that finished. Per model × method × suite (the paper's Table 4):
for each seed the mean over the suite's tasks finished with that seed, then mean ± std over seeds; a row is
*incomplete* (marked †) when some of its cells failed or were skipped.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, UserFileNotFoundError
from ..io import atomic_path, atomic_write_json, atomic_write_text

__all__ = ["CellRecord", "aggregate", "read_published", "score_of", "write_reports"]

PERCENT_METRICS = {"mcc", "f1", "accuracy", "precision", "recall", "pearson", "spearman", "r2"}
METHOD_TITLES = {"full": "Full", "lora": "LoRA", "adapter": "Adapter"}


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
    throughput_ktok_s: float | None = None  # real (non-padding) tokens, the paper's Table 2 unit
    peak_mem_gb: float | None = None
    config_hash: str | None = None
    error: str | None = None
    run_dir: str | None = None

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


def aggregate(cells: list[CellRecord], cfg: Any) -> dict[str, Any]:
    """Per-task and per-suite rows, published scores and efficiency, as plain JSON-able data."""
    tasks: list[dict[str, Any]] = []
    keys = _order([f"{c.suite}\t{c.task}\t{c.model}\t{c.method}" for c in cells])
    for key in keys:
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
                "method": method,
                "n": len(ok),
                "mean": mean,
                "std": std,
                "seeds": [c.seed for c in ok],
                "scores": [c.score for c in ok],
                "not_ok": {str(c.seed): c.status for c in mine if c.status != "ok"},
            }
        )
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
                "method": method,
                "mean": mean,
                "std": std,
                "n_seeds": len(per_seed),
                "per_seed": per_seed,
                "cells_ok": sum(c.status == "ok" for c in mine),
                "cells": len(mine),
                "complete": all(c.status == "ok" for c in mine),
            }
        )
    published = [r for p in getattr(cfg, "published_scores", []) for r in read_published(Path(p))]
    return {"tasks": tasks, "suites": suites, "published": published, "efficiency": _efficiency(cells)}


def _efficiency(cells: list[CellRecord]) -> list[dict[str, Any]]:
    rows = []
    for key in _order([f"{c.model}\t{c.method}" for c in cells]):
        model, method = key.split("\t")
        ok = [c for c in cells if (c.model, c.method) == (model, method) and c.status == "ok"]
        tp = [c.throughput_kbp_s for c in ok if c.throughput_kbp_s is not None]
        tk = [c.throughput_ktok_s for c in ok if c.throughput_ktok_s is not None]
        mem = [c.peak_mem_gb for c in ok if c.peak_mem_gb is not None]
        params = [c.trainable_params for c in ok if c.trainable_params is not None]
        rows.append(
            {
                "model": model,
                "method": method,
                "throughput_kbp_s": float(np.mean(tp)) if tp else None,
                "throughput_ktok_s": float(np.mean(tk)) if tk else None,
                "peak_mem_gb": float(max(mem)) if mem else None,
                "trainable_params": int(params[0]) if params else None,
            }
        )
    return rows


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def read_published(path: Path) -> list[dict[str, Any]]:
    """Published scores as rows (source, model, method, suite, task, score, std) from three CSV layouts.

    ``model,suite,full,full_std,lora,...`` (the paper's Table 4), ``model,<task>,<task>...`` (one row per
    model, e.g. DNABERT-2's GUE table) and ``dataset,<baseline>,...`` (one row per task, e.g. Genomic
    Benchmarks' baselines; ``*_loss`` columns are not scores and are left out).
    """
    if not path.is_file():
        raise UserFileNotFoundError(f"published_scores file {path} not found")
    df = pd.read_csv(path)
    cols = list(df.columns)
    rows: list[dict[str, Any]] = []
    src = path.name

    def add(model: Any, method: Any, suite: Any, task: Any, score: Any, std: Any = None) -> None:
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return
        std = None if std is None or (isinstance(std, float) and math.isnan(std)) else float(std)
        rows.append(
            {
                "source": src,
                "model": str(model),
                "method": method,
                "suite": suite,
                "task": task,
                "score": float(score),
                "std": std,
            }
        )

    if "model" in cols and "suite" in cols:
        for _, r in df.iterrows():
            for m in METHOD_TITLES:
                if m in cols:
                    add(r["model"], m, r["suite"], None, r[m], r.get(f"{m}_std"))
    elif "model" in cols:
        for _, r in df.iterrows():
            for t in cols[1:]:
                add(r["model"], None, None, t, r[t])
    elif "dataset" in cols:
        for _, r in df.iterrows():
            for b in cols[1:]:
                if not b.endswith("_loss"):
                    add(b, None, None, r["dataset"], r[b])
    else:
        raise DataError(
            f"{path}: unknown layout (columns {', '.join(cols)}); expected model,suite,full,... or "
            "model,<task>... or dataset,<baseline>..."
        )
    return rows


def _fmt(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f}"


def suite_table(agg: dict[str, Any]) -> str:
    """The paper's Table 4 layout: one row per model, columns suite × method."""
    rows = agg["suites"]
    suites = _order([r["suite"] for r in rows])
    methods = [m for m in METHOD_TITLES if any(r["method"] == m for r in rows)]
    head = "| Model | " + " | ".join(f"{s} {METHOD_TITLES[m]}" for s in suites for m in methods) + " |"
    lines = [head, "|" + "---|" * (1 + len(suites) * len(methods))]
    for model in _order([r["model"] for r in rows]):
        cells = []
        for s in suites:
            for m in methods:
                hit = next((r for r in rows if (r["suite"], r["model"], r["method"]) == (s, model, m)), None)
                text = _fmt(hit["mean"], hit["std"]) if hit else "—"
                cells.append(text + (" †" if hit and not hit["complete"] else ""))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    for p in _order([f"{r['model']}\t{r['source']}" for r in agg["published"] if r["suite"]]):
        model, src = p.split("\t")
        cells = []
        for s in suites:
            for m in methods:
                hit = next(
                    (
                        r
                        for r in agg["published"]
                        if r["model"] == model
                        and r["source"] == src
                        and r["method"] == m
                        and r["suite"]
                        and _norm(r["suite"]) == _norm(s)
                    ),
                    None,
                )
                cells.append(_fmt(hit["score"], hit["std"]) if hit else "—")
        if any(c != "—" for c in cells):
            lines.append(f"| {model} (published, {src}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def task_table(agg: dict[str, Any], suite: str) -> str:
    rows = [r for r in agg["tasks"] if r["suite"] == suite]
    tasks = _order([r["task"] for r in rows])
    lines = ["| Model | Method | " + " | ".join(tasks) + " |", "|" + "---|" * (2 + len(tasks))]
    for key in _order([f"{r['model']}\t{r['method']}" for r in rows]):
        model, method = key.split("\t")
        cells = []
        for t in tasks:
            hit = next((r for r in rows if (r["model"], r["method"], r["task"]) == (model, method, t)), None)
            cells.append(f"{_fmt(hit['mean'], hit['std'])} (n={hit['n']})" if hit else "—")
        lines.append(f"| {model} | {METHOD_TITLES.get(method, method)} | " + " | ".join(cells) + " |")
    for key in _order([f"{r['model']}\t{r['source']}" for r in agg["published"] if r["task"] in tasks]):
        model, src = key.split("\t")
        vals = {r["task"]: r["score"] for r in agg["published"] if (r["model"], r["source"]) == (model, src)}
        cells = [f"{vals[t]:.2f}" if t in vals else "—" for t in tasks]
        lines.append(f"| {model} | published ({src}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markdown(agg: dict[str, Any], cells: list[CellRecord], plot: Path | None) -> str:
    parts = [
        "# Benchmark report",
        "",
        "## Suites (mean ± std over seeds of the mean over tasks)",
        "",
        suite_table(agg),
        "",
        "† incomplete: some cells failed or were skipped (see below).",
        "",
    ]
    for suite in _order([r["suite"] for r in agg["tasks"]]):
        rows = [r for r in agg["tasks"] if r["suite"] == suite]
        scored = _order([r["task"] for r in rows if r["n"] > 0])
        parts.append(
            f"- {suite}: our rows average over {len(scored)} task(s) with results, of "
            f"{len(_order([r['task'] for r in rows]))} in this sweep"
            + ("; a published suite score averages over its whole suite" if agg["published"] else "")
        )
    parts.append("")
    for suite in _order([r["suite"] for r in agg["tasks"]]):
        metric = ", ".join(_order([r["metric"] for r in agg["tasks"] if r["suite"] == suite]))
        parts += [
            f"## {suite}: per task (test {metric}, mean ± std over seeds)",
            "",
            task_table(agg, suite),
            "",
        ]
    bad = [c for c in cells if c.status != "ok"]
    if bad:
        parts += ["## Failed and skipped cells", ""]
        parts += [
            f"- {c.status}: {c.cell_id()}: {(c.error or '').splitlines()[0] if c.error else ''}" for c in bad
        ]
        parts.append("")
    if plot is not None:
        parts += ["## Trade-off", "", f"![score vs throughput and memory]({plot.name})", ""]
    return "\n".join(parts)


def write_reports(
    out: Path, agg: dict[str, Any], cells: list[CellRecord], cfg: Any
) -> tuple[dict[str, Path], str]:
    """aggregate.json, aggregate_tasks.csv, aggregate_suites.csv, cells.csv, report.md and tradeoff.png."""
    from .plot import plot_tradeoff

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
    plot = plot_tradeoff(agg, getattr(cfg, "efficiency_csv", None), out / "tradeoff.png")
    if plot is not None:
        files["plot"] = plot
    atomic_write_text(files["report"], _markdown(agg, cells, plot))
    return files, suite_table(agg)
