"""What a run produced, for the page: metrics rows, plots and files of its declared outputs.

The outputs are the config's own :meth:`~genomefactory.config.StrictConfig.output_paths` (a folder, or a file
such as ``embeddings.parquet`` with its side files ``embeddings.*``), never a guess from field names: a file
written at the workspace root shows that file, not the workspace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["curves_of", "output_files", "results_of"]

CURVE_FILE = "trainer_log.jsonl"  # the trainer's curve: one JSON object per logging / evaluation step
RATE_KEYS = ("learning_rate",)
METRIC_FILES = ("metrics.json", "aggregate.json", "summary.json", "interpretation.json")


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(obj, dict):
        return [row for k, v in obj.items() for row in _flatten(v, f"{prefix}{k}.")]
    value = f"{obj:.4f}" if isinstance(obj, float) else str(obj)
    return [(prefix.rstrip("."), value)]


def _mean_std(row: dict[str, Any], n: str) -> str:
    if row.get("mean") is None:
        return "None"
    std = f" ± {row['std']:.2f}" if row.get("std") is not None else ""
    return f"{row['mean']:.2f}{std} (n={row.get(n, '?')})"


def _aggregate_rows(agg: dict[str, Any]) -> list[tuple[str, str]]:
    """A benchmark's aggregate: mean ± std per suite, then per task, for each model × method."""
    rows = [
        (f"{r['suite']} | {r['model']} | {r['method']}", _mean_std(r, "n_seeds"))
        for r in agg.get("suites", [])
    ]
    rows += [
        (f"{r['suite']}/{r['task']} | {r['model']} | {r['method']} | {r['metric']}", _mean_std(r, "n"))
        for r in agg.get("tasks", [])
    ]
    return rows


def output_files(outputs: list[Path], limit: int = 200) -> list[Path]:
    """Files of the outputs: a folder's files (checkpoints and hidden files left out), a file with its
    side files (same stem, e.g. ``emb.npy`` + ``emb.index.csv``)."""
    files: list[Path] = []
    for out in outputs:
        if out.is_dir():
            files += [
                p
                for p in sorted(out.rglob("*"))
                if p.is_file()
                and "checkpoint-" not in str(p.relative_to(out))
                and not any(part.startswith(".") for part in p.relative_to(out).parts)
            ]
        elif out.parent.is_dir():
            stem = out.name.split(".")[0]
            files += [
                p
                for p in sorted(out.parent.iterdir())
                if p.is_file()
                and (p == out or (p.name.split(".")[0] == stem and p.name.startswith(stem + ".")))
            ]
    unique = list(dict.fromkeys(files))
    return unique[:limit]


def _metrics_rows(outputs: list[Path]) -> list[tuple[str, str]]:
    for out in outputs:
        if not out.is_dir():
            continue
        for name in METRIC_FILES:
            p = out / name
            if not p.is_file():
                continue
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            rows = _aggregate_rows(data) if name == "aggregate.json" else _flatten(data)
            return [r for r in rows if r[1] != "None"][:200]
    return []


def results_of(outputs: list[Path], limit: int = 40) -> dict[str, Any]:
    """Metrics rows, images and output files of a run's declared outputs."""
    files = output_files(outputs)
    return {
        "metrics": _metrics_rows(outputs),
        "images": [str(p) for p in files if p.suffix == ".png"][:8],
        "files": [str(p) for p in files][:limit],
    }


def curves_of(outputs: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Long-format rows ``{step, value, series}`` of the training curve (read while it grows): losses and dev
    metrics, and the learning rate apart (its scale is another)."""
    metrics: list[dict[str, Any]] = []
    rates: list[dict[str, Any]] = []
    for out in outputs:
        p = out / CURVE_FILE
        if not p.is_file():
            continue
        try:
            text = p.read_text()
        except OSError:
            return metrics, rates
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # the line being written
            step = row.get("step")
            if not isinstance(step, (int, float)):
                continue
            for key, value in row.items():
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                if key in RATE_KEYS:
                    rates.append({"step": step, "value": float(value), "series": key})
                elif key == "loss" or (
                    key.startswith("eval_") and not key.endswith(("runtime", "per_second"))
                ):
                    metrics.append({"step": step, "value": float(value), "series": key})
        break
    return metrics, rates
