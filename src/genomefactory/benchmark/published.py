"""Published scores and efficiency figures that reports compare against: bundled copies and user CSV files.

A config names a file by path, or a copy shipped with the package as ``bundled:<file name>`` (package data under
``genomefactory/data/published``; ``sources.json`` there states where each value comes from). Every file is read
and checked when the sweep starts, before the first cell trains.

Layouts of a published-scores CSV: ``model,suite,full,full_std,lora,...`` (the Genome-Factory paper's Table 4),
``model,<task>,<task>...`` (one row per model, e.g. DNABERT-2's GUE table) and ``dataset,<baseline>,...`` (one
row per task, e.g. Genomic Benchmarks' baselines; ``*_loss`` columns are not scores and are left out). Scores
are on the report's scale (×100 for MCC/F1/accuracy).
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError, UserFileNotFoundError

__all__ = [
    "BUNDLED_PREFIX",
    "bundled_names",
    "read_efficiency",
    "read_published",
    "resolve_reference",
    "source_info",
]

BUNDLED_PREFIX = "bundled:"
METHODS = ("full", "lora", "adapter")
EFFICIENCY_COLUMNS = {"model", "method", "peak_mem_gb", "throughput_ktok_s"}


def _bundled_dir() -> Path:
    return Path(str(resources.files("genomefactory").joinpath("data/published")))


@cache
def _sources() -> dict[str, dict[str, Any]]:
    return dict(json.loads((_bundled_dir() / "sources.json").read_text()))


def bundled_names() -> list[str]:
    """File names usable as ``bundled:<name>``."""
    return sorted(p.name for p in _bundled_dir().glob("*.csv"))


def resolve_reference(name: str, key: str) -> Path:
    """The file a config names (``bundled:<file>`` or a path); raises naming ``key`` when it does not exist."""
    if name.startswith(BUNDLED_PREFIX):
        file = name[len(BUNDLED_PREFIX) :]
        path = _bundled_dir() / file
        if file not in bundled_names():
            raise UserFileNotFoundError(
                f"{key}: no bundled file {file!r}; bundled: {', '.join(BUNDLED_PREFIX + n for n in bundled_names())}"
            )
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        hint = ""
        if path.name in bundled_names():
            hint = f"; the package ships a copy: use {BUNDLED_PREFIX}{path.name}"
        raise UserFileNotFoundError(f"{key}: file {path} not found{hint}")
    return path


def source_info(path: Path) -> dict[str, Any]:
    """Provenance of a published file: ``title`` (shown in tables), ``source``, ``bundled``."""
    if path.parent.resolve() == _bundled_dir().resolve() and path.name in _sources():
        return {**_sources()[path.name], "bundled": True}
    return {"title": path.name, "source": str(path), "bundled": False}


def read_published(path: Path) -> list[dict[str, Any]]:
    """Published scores as rows (source, model, method, suite, task, score, std) from the three layouts."""
    if not path.is_file():
        raise UserFileNotFoundError(f"published_scores file {path} not found")
    try:
        df = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"published_scores file {path} is not a readable CSV: {exc}") from exc
    cols = [str(c) for c in df.columns]
    rows: list[dict[str, Any]] = []
    src = source_info(path)["title"]

    def add(model: Any, method: Any, suite: Any, task: Any, score: Any, std: Any = None) -> None:
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return
        try:
            value = float(score)
            spread = None if std is None or (isinstance(std, float) and math.isnan(std)) else float(std)
        except (TypeError, ValueError):
            raise DataError(
                f"{path}: score {score!r} (model {model}, {task or suite}) is not a number"
            ) from None
        rows.append(
            {
                "source": src,
                "model": str(model),
                "method": method,
                "suite": suite,
                "task": task,
                "score": value,
                "std": spread,
            }
        )

    if "model" in cols and "suite" in cols:
        for _, r in df.iterrows():
            for m in METHODS:
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


def read_efficiency(path: Path) -> pd.DataFrame:
    """An efficiency table (columns model, method, peak_mem_gb, throughput_ktok_s), checked."""
    try:
        df = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"efficiency_csv {path} is not a readable CSV: {exc}") from exc
    missing = EFFICIENCY_COLUMNS - {str(c) for c in df.columns}
    if missing:
        raise DataError(f"efficiency_csv {path}: missing column(s) {', '.join(sorted(missing))}")
    for col in ("peak_mem_gb", "throughput_ktok_s"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"efficiency_csv {path} row {i + 1}: {col} {df[col].iloc[i]!r} is not a number")
        df[col] = values
    return df
