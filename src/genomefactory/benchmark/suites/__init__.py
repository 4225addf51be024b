"""Benchmark suites: a registry of named suites, each listing tasks and preparing a task folder.

A prepared task is a folder in the trainer's layout (``train.csv``, ``dev.csv``, ``test.csv``, columns
``sequence,label``; a suite's own split files are read with :func:`read_labelled`, i.e. through
:mod:`genomefactory.records`). Built-in suites: ``gue``, ``genomic_benchmarks``, ``custom``. Plugins register more through
the entry point group ``genomefactory.benchmarks``: the entry point loads a :class:`Suite` instance (or a
zero-argument callable returning one); its name is the entry point's name.

Missing splits are not errors of the sweep: the task is *prepared* with ``missing`` naming each absent file,
and its cells are recorded as skipped with that reason.
"""

from __future__ import annotations

import importlib.metadata
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError
from ...io import atomic_path, atomic_write_json
from ...plugins import Registry, UnknownNameError
from ...train.data import labelled_frame
from ..config import SuiteConfig

__all__ = ["BenchTask", "PreparedTask", "Suite", "get_suite", "materialize", "register_suite", "suite_names"]

log = logging.getLogger("genomefactory.benchmark")

ENTRY_POINT_GROUP = "genomefactory.benchmarks"
SPLIT_SEED = 0  # fixed: every model and seed sees the same subsample and dev split


@dataclass(frozen=True)
class BenchTask:
    """One task of a suite; ``name`` is its path inside the suite (``EMP/H3``)."""

    suite: str
    name: str
    group: str
    metric: str
    task_type: str = "classification"


@dataclass
class PreparedTask:
    task: BenchTask
    folder: Path | None
    num_labels: int | None = None
    missing: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    mean_train_bp: float = 0.0
    notes: list[str] = field(default_factory=list)


class Suite(ABC):
    """Base class of a suite. Subclasses set ``name``/``title`` and implement the two methods."""

    name: str = ""
    title: str = ""

    @abstractmethod
    def list_tasks(self, cfg: SuiteConfig) -> list[BenchTask]:
        """The suite's tasks (name, group, metric, task type)."""

    @abstractmethod
    def prepare(self, task: BenchTask, cfg: SuiteConfig, work_dir: Path) -> PreparedTask:
        """Materialise one task as a train/dev/test folder under ``work_dir``."""

    def check(self, cfg: SuiteConfig) -> None:
        """Raise a :class:`~genomefactory.errors.UserError` when the suite's inputs (folders, genomes) are missing.

        Called when the sweep starts, before anything is written or trained; reads no task data. The base
        class checks nothing (a plugin suite whose inputs cannot be checked up front reports them per task)."""
        return None

    def select(self, cfg: SuiteConfig) -> list[BenchTask]:
        """The tasks named in ``cfg.tasks`` (task names or group prefixes), in suite order."""
        tasks = self.list_tasks(cfg)
        if not cfg.tasks:
            return tasks
        chosen: list[BenchTask] = []
        for want in cfg.tasks:
            hits = [
                t
                for t in tasks
                if t.name == want or t.group == want or t.name.startswith(want.rstrip("/") + "/")
            ]
            if not hits:
                import difflib

                close = difflib.get_close_matches(want, [t.name for t in tasks], n=3)
                raise DataError(
                    f"suite {self.name}: unknown task {want!r}"
                    + (f"; did you mean {', '.join(close)}?" if close else "")
                    + f" (tasks: {', '.join(t.name for t in tasks)})"
                )
            chosen.extend(t for t in hits if t not in chosen)
        return chosen


class UnknownSuiteError(UnknownNameError, ValueError):
    """A benchmark suite name no built-in or plugin carries."""


class _SuiteRegistry(Registry[Suite]):
    """The shared registry mechanism; an entry point may load a Suite subclass or instance (named by the entry
    point, so one class can serve several names)."""

    def _load_entry_point(self, ep: importlib.metadata.EntryPoint) -> None:
        try:
            obj = ep.load()
            suite = obj if isinstance(obj, Suite) else obj()
        except Exception as exc:  # a broken plugin must not take the built-ins down with it
            log.warning("could not load benchmark suite plugin %r from %s: %s", ep.name, ep.value, exc)
            return
        if not isinstance(suite, Suite):
            log.warning(
                "entry point %r of %s gave %s, not a Suite", ep.name, self.group, type(suite).__name__
            )
            return
        suite.name = ep.name
        self.register(suite, ep.name)


SUITES = _SuiteRegistry(
    "benchmark suite",
    ENTRY_POINT_GROUP,
    builtins=(f"{__name__}.custom", f"{__name__}.genomic_benchmarks", f"{__name__}.gue"),
)


def register_suite(suite: Suite) -> Suite:
    """Add a suite under its ``name`` (built-ins call this at import; plugins use the entry point group)."""
    return SUITES.register(suite, suite.name)


def suite_names() -> list[str]:
    return SUITES.names()


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise UnknownSuiteError(SUITES.unknown_message(name))
    return SUITES.get(name)


def read_labelled(path: Path) -> pd.DataFrame:
    """A split file (any record format, see :mod:`genomefactory.records`) as columns ``sequence``, ``label``.

    Sequences are validated and upper-cased; labels stay text (parsed by :func:`materialize`). A FASTA split takes
    its labels from ``<split>.labels.csv`` beside it, as the trainer does.
    """
    return labelled_frame(path)


def _label_values(df: pd.DataFrame, where: str) -> np.ndarray:
    values = pd.to_numeric(df["label"], errors="coerce").to_numpy()
    bad = np.flatnonzero(np.isnan(values))
    if bad.size:
        raise DataError(
            f"{where} row {int(bad[0]) + 1}: label {df['label'].iloc[int(bad[0])]!r} is not a number"
        )
    return values  # type: ignore[no-any-return]


def _subsample(df: pd.DataFrame, n: int | None) -> pd.DataFrame:
    if n is None or len(df) <= n:
        return df
    return df.sample(n=n, random_state=SPLIT_SEED).sort_index()


def materialize(
    task: BenchTask,
    frames: dict[str, pd.DataFrame | None],
    cfg: SuiteConfig,
    work_dir: Path,
    source: Path | None = None,
    fingerprint: dict[str, Any] | None = None,
) -> PreparedTask:
    """Write (or reuse) a task folder from split frames; a missing dev split is carved from train.

    ``source`` is the original folder: used as is when nothing needs rewriting (all three splits, no subsample).
    ``fingerprint`` identifies inputs that are not a folder (e.g. the genomes) so a changed input is rewritten.
    """
    prepared = PreparedTask(task, None)
    frames = dict(frames)
    if frames.get("dev") is None and frames.get("train") is not None and cfg.dev_fraction > 0:
        train = frames["train"]
        assert train is not None
        dev = train.sample(frac=cfg.dev_fraction, random_state=SPLIT_SEED).sort_index()
        frames["train"], frames["dev"] = train.drop(dev.index), dev
        prepared.notes.append(f"dev = {len(dev)} rows held out of train (dev_fraction {cfg.dev_fraction})")
    prepared.missing = [
        f"{task.suite}/{task.name}: split '{s}' is missing"
        for s in ("train", "dev", "test")
        if frames.get(s) is None
    ]
    if prepared.missing:
        return prepared
    full = {s: f for s, f in frames.items() if f is not None}
    if task.task_type == "classification":
        prepared.num_labels = max(
            2, int(max(_label_values(f, f"{task.name} {s}").max() for s, f in full.items())) + 1
        )
    cut = {s: _subsample(f, cfg.max_rows_per_split) for s, f in full.items()}
    prepared.rows = {s: len(f) for s, f in cut.items()}
    prepared.mean_train_bp = float(cut["train"]["sequence"].str.len().mean())
    unchanged = source is not None and all(len(cut[s]) == len(full[s]) for s in cut) and not prepared.notes
    if unchanged:
        prepared.folder = source
        return prepared
    folder = work_dir / task.suite / task.name
    stamp = {
        "rows": prepared.rows,
        "max_rows_per_split": cfg.max_rows_per_split,
        "dev_fraction": cfg.dev_fraction,
        "source": str(source) if source else None,
        "fingerprint": fingerprint or {},
    }
    marker = folder / "prepared.json"
    if not (marker.is_file() and _same(marker, stamp)):
        for s, f in cut.items():
            with atomic_path(folder / f"{s}.csv") as tmp:
                f.to_csv(tmp, index=False)
        atomic_write_json(marker, stamp)
    prepared.folder = folder
    return prepared


def _same(marker: Path, stamp: dict[str, Any]) -> bool:
    import json

    try:
        return bool(json.loads(marker.read_text()) == json.loads(json.dumps(stamp)))
    except (OSError, ValueError):
        return False
